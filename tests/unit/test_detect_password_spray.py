"""password_spray over the named sequences in tests/data/detect/password_spray.json."""

import pytest

from shared.detect import password_spray
from tests.unit.detect_sequences import build, cases, check

CASES = cases("password_spray")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_password_spray(case):
    sign_ins, context = build(case)
    check(case, password_spray.detect(sign_ins, context), sign_ins, context)
