"""`make demo ARGS="--privileged-review"`: the quarterly review of privileged accounts end to end
on the sample tenant, from the archive source, on 127.0.0.1 only.

The tenant gains a quarter of history for its administrators (local/tenant/quarter.py: a dormant
admin eligible through PIM, one signing in single-factor, one on IMAP, one whose session is used
mid-quarter from abroad, one holding a role only through a role-assignable group, and the
ordinary ones). The diagnostic-settings archive is written into
Azurite, a privileged run over the quarter goes through the function app's own queue handlers,
the review is checked against the planted ground truth, each account is signed off through the
attestations route, and verify-evidence checks the run, sign-offs included.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from local.approvals import ApprovalInbox
from local.runner import QueueRunner
from local.stack import local_stack
from local.tenant import Tenant, generate
from shared.api import ApiRequest, handle
from shared.audit import verify_run
from shared.model import PrivilegedAccount, PrivilegedReview, ReviewResult, level_rank
from shared.pipeline.runs import Tables, start_run

DECISIONS = {"dormant_admin": "remove-role", "anomaly_admin": "investigate"}


def run_privileged_demo(users: int, seed: int, out: Path) -> int:
    started = time.monotonic()
    tenant = generate(users=users, seed=seed, privileged_quarter=True)
    quarter = tenant.privileged_quarter
    assert quarter is not None
    print(f"Sample tenant: {users} users (seed {seed}) with a quarter of history for its "
          f"{len(tenant.quarter_truth)} privileged accounts, {quarter.start:%Y-%m-%d} to "
          f"{quarter.end:%Y-%m-%d}; writing the diagnostic-settings archive into Azurite on "
          "127.0.0.1 ...", flush=True)
    with ApprovalInbox() as inbox, local_stack(tenant=tenant, source="archive",
                                              APPROVAL_WEBHOOK_URL=inbox.url) as stack:
        services = stack.services
        print(f"  {len(tenant.sign_ins):,} sign-ins archived; the quarterly review reads the "
              "quarter from the archive.", flush=True)
        run = start_run(services, window=quarter, kind="privileged",
                        requested_by="quarterly access review")
        runner = QueueRunner(services)
        runner.drain()
        run = Tables.of(services.store).run(run.run_id)
        print(f"  run {run.run_id}: {run.status}, {len(run.slice_ids)} slices, "
              f"{runner.handled} messages handled", flush=True)
        evidence = services.store.evidence
        result = msgspec.json.decode(evidence.read_evidence(run.reports["json"]),
                                     type=ReviewResult)
        review = result.privileged_review
        assert review is not None
        print()
        print(review_table(review))
        wrong = ground_truth_problems(review, tenant)
        total = len(tenant.quarter_truth)
        print(f"Against the quarter's ground truth: {total - len(wrong)}/{total} privileged "
              "accounts as planted" + (f"; off: {'; '.join(wrong)}" if wrong else ""))
        asked = [r["privilegedReview"] for r in inbox.requests if r.get("privilegedReview")]
        if asked:
            print(f"Sign-off request to the approval webhook: {len(asked[0]['accounts'])} "
                  f"accounts, dormant: {', '.join(asked[0]['dormant']) or 'none'}.")
        else:
            print("No sign-off request reached the approval webhook.")
            wrong.append("no sign-off request")
        signed = sign_off(services, run.run_id, review, tenant)
        print(f"Signed off {signed} accounts through POST /api/privileged-reviews/"
              f"{run.run_id}/attestations (one write-once audit entry each).")
        out.mkdir(parents=True, exist_ok=True)
        for ref in run.reports.values():
            (out / ref.name.rsplit("/", 1)[-1]).write_bytes(evidence.read_evidence(ref))
        report = handle(services, "get_report", ApiRequest(
            "GET", f"http://127.0.0.1/api/reviews/{run.run_id}/report",
            route_params={"runId": run.run_id}, query={}, headers={}, body=b""))
        (out / "report-signed-off.html").write_bytes(report.body)
        check = verify_run(services.store, run.run_id)
        outcome = "everything matches" if check.ok else f"{len(check.problems)} problem(s)"
        print(f"verify-evidence: {check.blobs_checked} evidence blobs re-hashed, "
              f"{check.attestations_checked} sign-offs checked in the audit chain, {outcome}")
        for problem in check.problems[:5]:
            print(f"  - {problem.sentence}")
        print(f"\nReport: {(out / 'report.html').resolve()}")
        print("        (report-signed-off.html: the same, with the sign-offs since)")
    print(f"Done in {time.monotonic() - started:.0f} s; every service stopped.")
    return 0 if run.status == "complete" and not wrong and check.ok else 1


def review_table(review: PrivilegedReview) -> str:
    lines = [f"{'account':34} {'roles':38} {'verdict':7} {'sign-ins':>8} {'1FA':>4} "
             f"{'legacy':>6}  needs a decision"]
    for a in review.accounts:
        roles = ", ".join(r.role + (" (eligible)" if r.assignment == "eligible" else "")
                          + (f" via {r.via}" if r.via else "") for r in a.roles)
        name = (a.user_principal_name or a.user_id)[:34]
        lines.append(f"{name:34} {roles[:38]:38} {a.verdict:7} {a.sign_ins:>8} "
                     f"{a.single_factor_sign_ins:>4} {a.legacy_protocol_sign_ins:>6}  "
                     f"{(a.attention or ['nothing'])[0][:60]}")
    return "\n".join(lines)


def ground_truth_problems(review: PrivilegedReview, tenant: Tenant) -> list[str]:
    by_id = {a.user_id: a for a in review.accounts}
    problems = []
    for user_id, truth in tenant.quarter_truth.items():
        account: PrivilegedAccount | None = by_id.get(user_id)
        if account is None:
            problems.append(f"{truth.scenario} not in the review")
            continue
        if account.dormant != truth.dormant:
            problems.append(f"{truth.scenario}: dormant {account.dormant}")
        if truth.single_factor and not account.single_factor_sign_ins:
            problems.append(f"{truth.scenario}: no single-factor sign-in found")
        if truth.legacy_protocol and not account.legacy_protocol_sign_ins:
            problems.append(f"{truth.scenario}: no legacy-protocol sign-in found")
        if truth.via_group and not any(r.via == truth.via_group for r in account.roles):
            problems.append(f"{truth.scenario}: no role held via {truth.via_group}")
        if not level_rank(truth.min_verdict) <= level_rank(account.verdict) \
                <= level_rank(truth.max_verdict):
            problems.append(f"{truth.scenario}: verdict {account.verdict}")
    return problems


def sign_off(services: object, run_id: str, review: PrivilegedReview, tenant: Tenant) -> int:
    """One sign-off per account through the function-key route, as a GRC tool would send it."""
    from shared.services import Services

    assert isinstance(services, Services)
    done = 0
    for account in review.accounts:
        scenario = tenant.quarter_truth[account.user_id].scenario \
            if account.user_id in tenant.quarter_truth else "ordinary_admin"
        body = msgspec.json.encode({
            "account": account.user_id, "decision": DECISIONS.get(scenario, "keep"),
            "reviewer": "Quarterly access review (demo)",
            "comment": "; ".join(account.attention) or "nothing to decide"})
        answer = handle(services, "create_attestation", ApiRequest(
            "POST", f"http://127.0.0.1/api/privileged-reviews/{run_id}/attestations",
            route_params={"runId": run_id}, query={},
            headers={"content-type": "application/json"}, body=body))
        done += answer.status == 201
    return done
