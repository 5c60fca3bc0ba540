"""impossible_travel over the named sequences in tests/data/detect/impossible_travel.json."""

import pytest

from shared.detect import impossible_travel
from tests.unit.detect_sequences import build, cases, check

CASES = cases("impossible_travel")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_impossible_travel(case):
    sign_ins, context = build(case)
    check(case, impossible_travel.detect(sign_ins, context), sign_ins, context)
