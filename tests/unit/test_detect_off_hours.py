"""off_hours over the named sequences in tests/data/detect/off_hours.json."""

import pytest

from shared.detect import off_hours
from tests.unit.detect_sequences import build, cases, check

CASES = cases("off_hours")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_off_hours(case):
    sign_ins, context = build(case)
    check(case, off_hours.detect(sign_ins, context), sign_ins, context)
