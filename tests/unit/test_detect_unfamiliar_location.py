"""unfamiliar_location over the named sequences in tests/data/detect/unfamiliar_location.json."""

import pytest

from shared.detect import unfamiliar_location
from tests.unit.detect_sequences import build, cases, check

CASES = cases("unfamiliar_location")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_unfamiliar_location(case):
    sign_ins, context = build(case)
    check(case, unfamiliar_location.detect(sign_ins, context), sign_ins, context)
