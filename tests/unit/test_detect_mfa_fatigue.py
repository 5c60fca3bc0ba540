"""mfa_fatigue over the named sequences in tests/data/detect/mfa_fatigue.json."""

import pytest

from shared.detect import mfa_fatigue
from tests.unit.detect_sequences import build, cases, check

CASES = cases("mfa_fatigue")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_mfa_fatigue(case):
    sign_ins, context = build(case)
    check(case, mfa_fatigue.detect(sign_ins, context), sign_ins, context)
