"""repeated_failures over the named sequences in tests/data/detect/repeated_failures.json."""

import pytest

from shared.detect import repeated_failures
from tests.unit.detect_sequences import build, cases, check

CASES = cases("repeated_failures")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_repeated_failures(case):
    sign_ins, context = build(case)
    check(case, repeated_failures.detect(sign_ins, context), sign_ins, context)
