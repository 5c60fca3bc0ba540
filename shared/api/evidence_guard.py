"""The evidence guard: nothing remediates unless the verdict's evidence is intact and sealed.

`inspect_evidence(store, verdict)` runs CHECKS in order over what it reads and answers what was
checked and, if anything, the reasons to refuse. It fails closed: any error reading or decoding
anything on the way (a blob that is not JSON, `[]`, a storage read that fails after the blob
was verified, a manifest that cannot be read) is a reason, never a pass. Once a check refuses,
the checks after it do not run (they would judge evidence already in doubt).

What must hold, one check each:
1. the bundle reference sits under the verdict's own run (`runs/{runId}/`, a safe blob path);
2. the bundle blob exists and hashes to the SHA-256 the verdict recorded;
3. it decodes (a blob of bundles, or an earlier run's single bundle) and holds exactly one
   bundle for the user (two would let a harmless first one hide the second), naming the run;
4. the run's write-once manifest (`runs/{runId}/manifest.json`) exists, is the one the run
   record kept, names the run, lists the verdict for this user with this very bundle, and
   lists every page and context blob of the bundle and the verdict with the same SHA-256;
5. each of those blobs exists and hashes to its SHA-256.

A verdict's table entity is the one thing here an attacker with write access to a table could
change; the manifest and the evidence are write-once, so tying the entity to them is what makes
"run R2's verdict points at run R1's bundle" or "the verdict points at the run's report" a
refusal. More checks (the state of the account's objects since the review) are added to CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from shared.audit.manifest import Manifest, decode_manifest
from shared.errors import SigninReviewError
from shared.pipeline.records import VerdictRecord
from shared.pipeline.runs import Tables
from shared.pipeline.scoring import bundles_in
from shared.store import EvidenceRef, Store, manifest_name
from shared.store.evidence import checked_name


class BundleRefs(msgspec.Struct):
    """What a per-user bundle says about itself and lists (its other fields are not needed)."""

    run_id: str = ""
    user_id: str = ""
    pages: list[EvidenceRef] = msgspec.field(default_factory=list)
    context: EvidenceRef | None = None


@dataclass
class Inspection:
    """The evidence behind one verdict, as far as the checks got."""

    store: Store
    verdict: VerdictRecord
    bundle: BundleRefs | None = None
    manifest: Manifest | None = None

    @property
    def listed(self) -> list[EvidenceRef]:
        """Every blob behind the verdict: the bundle, then its pages and context, once each."""
        refs = [self.verdict.evidence, *self.verdict.pages]
        if self.bundle is not None:
            refs += self.bundle.pages + ([self.bundle.context] if self.bundle.context else [])
        return list({ref.name: ref for ref in refs}.values())


Check = Callable[[Inspection], list[str]]
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, SigninReviewError)


def under_its_run(found: Inspection) -> list[str]:
    verdict = found.verdict
    name = verdict.evidence.name
    try:
        checked_name(name)
    except SigninReviewError:
        return [f"{name[:200]}: not a safe evidence path"]
    if not name.startswith(f"runs/{verdict.run_id}/"):
        return [f"{name}: is not evidence of run {verdict.run_id}"]
    return []


def bundle_intact(found: Inspection) -> list[str]:
    return blob_problems(found.store, found.verdict.evidence)


def one_bundle_for_the_user(found: Inspection) -> list[str]:
    verdict = found.verdict
    name = verdict.evidence.name
    try:
        bundles = bundles_in(found.store.evidence.read_evidence(verdict.evidence), BundleRefs)
    except DECODE_ERRORS as exc:
        return [f"{name}: not a readable evidence bundle ({reason(exc)})"]
    mine = [b for b in bundles if b.user_id == verdict.user_id]
    if not mine:
        return [f"{name}: holds no evidence bundle for this user"]
    if len(mine) > 1:
        return [f"{name}: holds {len(mine)} evidence bundles for this user; it must hold one"]
    if mine[0].run_id != verdict.run_id:
        return [f"{name}: the bundle names run {mine[0].run_id or '(none)'}, "
                f"not {verdict.run_id}"]
    found.bundle = mine[0]
    return []


def sealed_by_the_manifest(found: Inspection) -> list[str]:
    verdict = found.verdict
    run_id = verdict.run_id
    name = manifest_name(run_id)
    try:
        run = Tables.of(found.store).runs.get(run_id, "run")
        if run is None or run.manifest is None:
            return [f"run {run_id} has no audit manifest: its evidence is not sealed"]
        if run.manifest.name != name:
            return [f"run {run_id} records {run.manifest.name} as its manifest, not {name}"]
        manifest = decode_manifest(found.store.evidence.read_evidence(run.manifest))
    except DECODE_ERRORS as exc:
        return [f"{name}: not a readable audit manifest ({reason(exc)})"]
    found.manifest = manifest
    if manifest.run_id != run_id:
        return [f"{name}: names run {manifest.run_id}, not {run_id}"]
    listed = [v for v in manifest.verdicts if v.user_id == verdict.user_id]
    if len(listed) != 1 or listed[0].bundle != verdict.evidence:
        return [f"{name}: does not list {verdict.evidence.name} (SHA-256 "
                f"{verdict.evidence.sha256[:12]}) as the bundle of user {verdict.user_id}"]
    sealed = {blob.name: blob.ref for blob in manifest.evidence}
    return [f"{ref.name}: " + ("not listed in the run's manifest" if ref.name not in sealed
                               else "differs from the SHA-256 the run's manifest lists")
            for ref in found.listed if sealed.get(ref.name) != ref]


def every_blob_intact(found: Inspection) -> list[str]:
    problems = []
    for ref in found.listed:
        if ref.name != found.verdict.evidence.name:  # checked first, by bundle_intact
            problems += blob_problems(found.store, ref)
    return problems


CHECKS: list[Check] = [
    under_its_run,
    bundle_intact,
    one_bundle_for_the_user,
    sealed_by_the_manifest,
    every_blob_intact,
]


def inspect_evidence(store: Store, verdict: VerdictRecord) -> tuple[list[EvidenceRef], list[str]]:
    """(what was checked, the reasons to refuse): empty reasons only when every check passed."""
    found = Inspection(store=store, verdict=verdict)
    for check in CHECKS:
        problems = check(found)
        if problems:
            return found.listed, problems
    return found.listed, []


def blob_problems(store: Store, ref: EvidenceRef) -> list[str]:
    try:
        check = store.evidence.verify_evidence(ref)
    except SigninReviewError as exc:
        return [f"{ref.name}: could not be read ({reason(exc)})"]
    if check:
        return []
    why = check.reason or "unreadable"
    return [f"{ref.name}: " + ("missing" if why.endswith("missing") else f"altered ({why})")]


def reason(exc: Exception) -> str:
    text = exc.message if isinstance(exc, SigninReviewError) else str(exc)
    return text[:300] or type(exc).__name__
