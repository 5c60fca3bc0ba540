"""disabled_account over the named sequences in tests/data/detect/disabled_account.json."""

import pytest

from shared.detect import disabled_account
from tests.unit.detect_sequences import build, cases, check

CASES = cases("disabled_account")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_disabled_account(case):
    sign_ins, context = build(case)
    check(case, disabled_account.detect(sign_ins, context), sign_ins, context)
