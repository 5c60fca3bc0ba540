"""`signin-review verify-evidence`: check a run's audit record against storage.

    signin-review verify-evidence RUN [--json]

Reads the run's manifest, re-hashes every evidence blob it lists, checks the manifest's own
SHA-256 against the run record, its links in the audit chain (to the entry before it and from
the entry after it), and the run's remediation audit records. Storage comes from the app
settings in the environment (AzureWebJobsStorage, or the identity-based service URIs, and
STORAGE_NAME_PREFIX). Exit 0 when everything matches, 1 when anything does not (each mismatch
is named in a sentence), 2 for an unknown run, 4 when storage is not configured, 5 when it
cannot be reached (shared.commands.exits).
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from shared.audit import Verification, verify_run
from shared.commands import exits
from shared.errors import ConfigError, InputError, NotFoundError, StorageError
from shared.store import RetrySchedule, Store

# A person is waiting: give up on unreachable storage within seconds, not the pipeline's minute.
CLI_RETRY = RetrySchedule(retries=2, first_backoff_s=0.5, max_backoff_s=2.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN", help="the run id, e.g. scheduled-20250106T...")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def describe(result: Verification) -> str:
    """The result in sentences a person can read."""
    lines = [f"Run {result.run_id}"]
    if result.manifest is not None:
        lines += [f"  manifest {result.manifest.name}",
                  f"  SHA-256 {result.manifest.sha256} (as the run record keeps it)"]
    if result.sequence is not None:
        lines.append(f"  audit chain entry {result.sequence}; {result.blobs_checked} evidence "
                     f"blobs and {result.remediations_checked} remediation record(s) checked")
    for done in result.remediations:
        lines.append(f"  remediation {done.approval_id}: {done.approver} approved "
                     f"{', '.join(done.outcomes)} for {done.user_id} at "
                     f"{done.requested_at:%Y-%m-%d %H:%M} UTC ({done.status})")
    if result.attestations_checked:
        lines.append(f"  {result.attestations_checked} sign-off(s) of privileged accounts "
                     "checked:")
        lines += [f"    {line}" for line in result.attestations]
    if result.ok:
        lines.append("Everything matches: no evidence is missing or altered and the audit "
                     "chain is intact.")
    else:
        lines.append(f"{len(result.problems)} problem(s):")
        lines += [f"  - {p.sentence}" for p in result.problems]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from shared.services import current

    try:
        services = current()
        store = Store(services.settings, prefix=services.store_prefix, retry=CLI_RETRY)
        result = verify_run(store, args.run_id)
    except (ConfigError, InputError, NotFoundError, StorageError) as error:
        print(f"signin-review verify-evidence: {error.message}", file=sys.stderr)
        return exits.for_error(error)
    if args.json:
        body = {**msgspec.to_builtins(result), "ok": result.ok}
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(body)).decode() + "\n")
    else:
        print(describe(result))
    return exits.OK if result.ok else exits.PROBLEM
