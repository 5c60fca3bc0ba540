"""`gotIn` in the JSON agrees with the sentences, for every finding type, on every named sequence.

A finding that says the attacker got in (a success, a validated password, "the spray worked")
has `got_in` true; one that says nobody got in (no attempt succeeded, stopped at a prompt) has it
false; the verdict's `got_in` is true exactly when a reason says the attacker got in or knew the
password. Interrupts alone (MFA required, keep me signed in, device or CA prompts) never make it
true, and without a baseline never carry a finding above `low`.
"""

from __future__ import annotations

import pytest

from shared.detect import DETECTIONS, run_all
from shared.detect.codes import is_prompt
from shared.verdict import decide
from tests.unit.detect_sequences import build, cases

CASES = [(detection, case) for detection in DETECTIONS for case in cases(detection)]
SAYS_IN = ("the spray worked", "the attacker got in", "then signed in", "password was validated",
           "had the password validated")
SAYS_OUT = ("did not get in", "no attempt succeeded", "proves no entry", "none completed",
            "stopped at a prompt")


def _verdict(case: dict):
    sign_ins, context = build(case)
    return sign_ins, context, decide(run_all(sign_ins, context), context, sign_ins)


@pytest.mark.parametrize(("detection", "case"), CASES,
                         ids=[f"{d}-{c['name']}" for d, c in CASES])
def test_got_in_agrees_with_the_sentences(detection: str, case: dict) -> None:
    verdict = _verdict(case)[2]
    for finding in verdict.findings:
        text = finding.summary.lower()
        if finding.got_in:
            assert not any(phrase in text for phrase in SAYS_OUT), finding.summary
        else:
            assert not any(phrase in text for phrase in SAYS_IN), finding.summary
    said_in = any(r.startswith(("The attacker got in", "The attacker knew the password"))
                  for r in verdict.reasons)
    assert verdict.got_in is said_in, verdict.reasons
    if not verdict.got_in:
        assert not any("the attacker got in" in r.lower() for r in verdict.reasons)


@pytest.mark.parametrize(("detection", "case"), CASES,
                         ids=[f"{d}-{c['name']}" for d, c in CASES])
def test_prompts_alone_never_got_in(detection: str, case: dict) -> None:
    sign_ins, context, verdict = _verdict(case)
    by_id = {s.id: s for s in sign_ins}
    for finding in verdict.findings:
        cited = [by_id[i] for i in finding.sign_in_ids if i in by_id]
        if cited and all(is_prompt(s.error_code) for s in cited):
            assert not finding.got_in, finding.summary
            if context.baseline is None:
                assert finding.severity == "low", finding.summary


def test_every_finding_type_is_checked() -> None:
    seen = {f.type for _, case in CASES for f in _verdict(case)[2].findings}
    assert seen == set(DETECTIONS)
