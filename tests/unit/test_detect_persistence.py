"""persistence over the named sequences in tests/data/detect/persistence.json: benign and hostile
changes after a sign-in side by side (the other detections run first and mark the suspicious
sign-ins, as in a review)."""


import msgspec
import pytest

from shared.detect import persistence, run_all
from shared.detect.context import DetectionContext
from shared.persistence.records import Followed
from tests.unit.detect_sequences import build, cases, check
from tests.unit.persistence_sequences import followed

CASES = cases("persistence")


def _context(case: dict) -> tuple[list, DetectionContext]:
    sign_ins, context = build(case)
    return sign_ins, msgspec.structs.replace(context, followed=followed(case))


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_persistence(case):
    sign_ins, context = _context(case)
    found = [f for f in run_all(sign_ins, context) if f.type == persistence.TYPE]
    active = [f for f in found if not f.context]
    check(case, active, sign_ins, context)
    assert len(found) - len(active) == case.get("context", 0), case["description"]
    named = sorted(f"{o.kind}:{o.id}" for f in active for o in f.objects)
    assert named == sorted(case.get("objects", [])), case["description"]


def test_nothing_read_is_no_finding():
    case = next(c for c in CASES if c["name"] == "aitm_registers_authenticator_same_address")
    sign_ins, context = build(case)
    assert persistence.detect(sign_ins, context, run_all(sign_ins, context)) == []
    context = msgspec.structs.replace(context, followed=Followed())
    assert persistence.detect(sign_ins, context, run_all(sign_ins, context)) == []


def test_the_attackers_method_makes_the_verdict_high_and_names_it():
    from shared.analysis import score_user

    case = next(c for c in CASES if c["name"] == "aitm_registers_authenticator_same_address")
    sign_ins, context = _context(case)
    verdict = score_user(sign_ins, context)
    assert verdict.verdict == "high"
    (finding,) = [f for f in verdict.findings if f.type == "persistence"]
    assert "2025-03-08T23:14Z" in finding.summary and "4 minutes after" in finding.summary
    assert "Lagos, NG (102.89.1.1)" in finding.summary
    assert [o.id for o in finding.objects] == ["m-attacker"]
