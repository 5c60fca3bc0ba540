"""`make demo`: the Monday job end to end on the sample tenant, on 127.0.0.1 only.

Starts Azurite and the Graph emulator (loaded with a generated tenant: three weeks of routine, a
weekend of benign noise and planted attacks), learns every user's baseline from the weeks before,
fires the Monday timer, drains the queues through the function app's own handlers, and prints the
review. The report is written under out/demo/, and the approval request the Logic App would get is
captured by a local stand-in.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

import msgspec

from local.approvals import ApprovalInbox, approve
from local.azurite import exit_on_sigterm
from local.runner import QueueRunner
from local.stack import LocalStack, local_stack
from shared.audit import verify_run
from shared.config import SIGNIN_SOURCES
from shared.model import ReviewResult, level_rank
from shared.persistence.records import AuthMethod
from shared.pipeline.learn import learn
from shared.pipeline.runs import Tables
from shared.remediation_objects import describe
from shared.report import render_table

OUT = Path(__file__).resolve().parent.parent / "out" / "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=120, help="sample tenant size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--source", choices=SIGNIN_SOURCES, default="graph",
                        help="where sign-ins are read: the Graph emulator, a diagnostic-settings "
                             "archive written into Azurite, or the Log Analytics emulator")
    parser.add_argument("--privileged-review", action="store_true",
                        help="the quarterly review of privileged accounts instead, from the "
                             "archive source (local/demo_privileged.py)")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    if args.privileged_review:
        from local.demo_privileged import run_privileged_demo

        return run_privileged_demo(args.users, args.seed,
                                   args.out.with_name(args.out.name + "-privileged"))
    started = time.monotonic()
    print(f"Sample tenant: {args.users} users (seed {args.seed}); starting Azurite and the Graph "
          f"emulator on 127.0.0.1; sign-ins from: {args.source} ...", flush=True)
    with ApprovalInbox() as inbox, local_stack(
            users=args.users, seed=args.seed, source=args.source,
            APPROVAL_WEBHOOK_URL=inbox.url) as stack:
        services, tenant = stack.services, stack.tenant
        print(f"  {len(tenant.sign_ins):,} sign-ins loaded; the weekend is "
              f"{tenant.window.start:%a %Y-%m-%d %H:%M} to {tenant.window.end:%a %Y-%m-%d %H:%M}"
              " UTC", flush=True)
        users = learn(services, until=tenant.window.start)
        print(f"Learned {users} baselines from the three weeks before the weekend.", flush=True)
        runner = QueueRunner(services)
        print("Monday 06:00: the timer fires; draining the queues through function_app.py ...",
              flush=True)
        runner.fire_timer()
        runner.drain()
        (run,) = Tables.of(services.store).runs.query("RowKey eq 'run'")
        print(f"  run {run.run_id}: {run.status}, {len(run.slice_ids)} slices, "
              f"{len(run.batch_ids)} scoring batches, {runner.handled} messages handled",
              flush=True)
        for source in run.sources:
            if source.name.startswith("signIns"):
                print(f"  {source.name}: {source.detail}", flush=True)
        evidence = services.store.evidence
        args.out.mkdir(parents=True, exist_ok=True)
        for ref in run.reports.values():
            (args.out / ref.name.rsplit("/", 1)[-1]).write_bytes(evidence.read_evidence(ref))
        result = msgspec.json.decode(evidence.read_evidence(run.reports["json"]),
                                     type=ReviewResult)
        print()
        print(render_table(result, width=100))
        print(ground_truth_line(result, tenant))
        for request in inbox.requests:
            print(f"Approval requested from the Logic App stand-in for "
                  f"{len(request['verdicts'])} medium/high users of run {request['runId']}.")
        contain_one(stack, run.run_id, result)
        print(f"\nReport: {(args.out / 'report.html').resolve()}")
        print("        (also report.csv, report-risk.csv and report.json; evidence hashes in "
              "the run's records)")
        if run.manifest is not None:
            check = verify_run(services.store, run.run_id)
            outcome = "everything matches" if check.ok else f"{len(check.problems)} problem(s)"
            print(f"Audit manifest: {run.manifest.name}")
            print(f"        SHA-256 {run.manifest.sha256}")
            print(f"        verify-evidence: {check.blobs_checked} evidence blobs re-hashed, "
                  f"{outcome}")
    print(f"Done in {time.monotonic() - started:.0f} s; every service stopped.")
    return 0 if run.status == "complete" else 1


def contain_one(stack: LocalStack, run_id: str, result: ReviewResult) -> None:
    """Approve the first high user whose persistence findings name an authentication method,
    and show that the approved remediation removed exactly that method (docs/persistence.md)."""
    user = next((u for u in result.users if "removeMethods" in u.proposed_actions), None)
    if user is None:
        return
    directory = stack.graph.tenant().directory

    def methods() -> list[str]:
        found = msgspec.convert([m for m in directory.methods if m.get("_owner") == user.user_id],
                                list[AuthMethod], strict=False)
        return [method.label for method in found]

    print(f"\nWhat followed, for {user.user_principal_name}:")
    for finding in user.findings:
        if finding.type == "persistence" and not finding.context:
            print(textwrap.fill(finding.summary, width=100, initial_indent="  - ",
                                subsequent_indent="    "))
    for line in describe(user.findings):
        print(f"  will go once approved: {line}")
    before = methods()
    record = approve(stack.services, run_id, user.user_id, list(user.proposed_actions))
    print(f"Approved ({', '.join(user.proposed_actions)}): {record.status}")
    for outcome in record.results:
        print(textwrap.fill(f"{outcome.action}: {outcome.outcome}"
                            + (f" ({outcome.message})" if outcome.message else ""), width=100,
                            initial_indent="  ", subsequent_indent="    "))
    print(f"  methods before: {', '.join(before)}")
    print(f"  methods after:  {', '.join(methods())}")


def ground_truth_line(result: ReviewResult, tenant: object) -> str:
    from local.tenant import Tenant

    assert isinstance(tenant, Tenant)
    levels = {u.user_id: u.verdict for u in result.users}
    wrong = [e.scenario for user_id, e in tenant.ground_truth.items()
             if not level_rank(e.min_verdict) <= level_rank(levels.get(user_id, "none"))
             <= level_rank(e.max_verdict)]
    total = len(tenant.ground_truth)
    return (f"Against the sample tenant's ground truth: {total - len(wrong)}/{total} users within "
            f"their expected level" + (f"; off: {', '.join(sorted(set(wrong)))}" if wrong else ""))


if __name__ == "__main__":
    sys.exit(main())
