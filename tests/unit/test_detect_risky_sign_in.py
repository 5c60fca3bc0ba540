"""risky_sign_in over the named sequences in tests/data/detect/risky_sign_in.json."""

import pytest

from shared.detect import risky_sign_in
from tests.unit.detect_sequences import build, cases, check

CASES = cases("risky_sign_in")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_risky_sign_in(case):
    sign_ins, context = build(case)
    check(case, risky_sign_in.detect(sign_ins, context), sign_ins, context)
