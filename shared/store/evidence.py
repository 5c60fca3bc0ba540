"""Evidence: the write-once blob container that auditors and remediation rely on.

Every blob is written with a create-only condition (If-None-Match: *), so nothing here ever
overwrites evidence; in Azure the container is also WORM (version-level immutability, set in
Bicep). A redelivered message that writes the same bytes again gets the same reference back;
different bytes under an existing name are refused with EvidenceError. The SHA-256 is kept as
blob metadata for convenience, but the authoritative hash is the one the caller records in the
entity that refers to the blob (`EvidenceRef`), and `verify_evidence` recomputes it.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import msgspec

from shared.errors import EvidenceError, InputError
from shared.store.names import checked_id, user_segment
from shared.store.retry import storage_errors

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

_NAME_SEGMENT = re.compile(r"[A-Za-z0-9._@%-]{1,256}")


class EvidenceRef(msgspec.Struct, frozen=True):
    """Where a piece of evidence is, and what it must hash to."""

    name: str
    sha256: str  # lower-case hex
    size: int


class EvidenceCheck(msgspec.Struct, frozen=True):
    """The outcome of re-reading a blob: `ok`, or a reason a person can read."""

    ok: bool
    reason: str | None = None
    sha256: str | None = None  # what the stored bytes hash to, when they could be read

    def __bool__(self) -> bool:
        return self.ok


def page_name(run_id: str, slice_id: str, n: int) -> str:
    """A raw Graph page of one slice: runs/{runId}/pages/{sliceId}/{n:05}.json."""
    if n < 0:
        raise InputError(f"page number must not be negative, got {n}")
    run, part = checked_id("run id", run_id), checked_id("slice id", slice_id)
    return f"runs/{run}/pages/{part}/{n:05}.json"


def user_bundle_name(run_id: str, user_id: str) -> str:
    """One user's evidence bundle: runs/{runId}/users/{userId}.json (user id %-escaped)."""
    return f"runs/{checked_id('run id', run_id)}/users/{user_segment(user_id)}.json"


def bundles_name(run_id: str, sha256: str) -> str:
    """Evidence bundles of users scored together: runs/{runId}/bundles/{sha256}.json, named by
    their own hash, so a retry that writes the same bytes finds them and one that writes other
    bytes (fewer users left to score) never collides."""
    return f"runs/{checked_id('run id', run_id)}/bundles/{checked_id('hash', sha256)}.json"


def manifest_name(run_id: str) -> str:
    return f"runs/{checked_id('run id', run_id)}/manifest.json"


def remediation_name(approval_id: str) -> str:
    return f"remediations/{checked_id('approval id', approval_id)}.json"


def checked_name(name: str) -> str:
    """Any evidence blob name: safe segments, no '.' or '..', no leading or doubled '/'."""
    segments = name.split("/")
    if len(name) > 1024 or not all(
        _NAME_SEGMENT.fullmatch(s) and s.strip(".") for s in segments
    ):
        raise InputError(f"evidence name {name[:120]!r} is not a safe blob path")
    return name


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EvidenceStore:
    """put, verify and read evidence blobs in one container."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    def put_evidence(self, name: str, data: bytes, *, content_type: str,
                     sha256: str | None = None) -> EvidenceRef:
        """Write `data` once under `name`; the same bytes again return the same reference.
        `sha256` is the data's hash when the caller computed it already (while the bytes
        streamed in); `verify_evidence` recomputes it from what was stored."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        ref = EvidenceRef(name=checked_name(name), sha256=sha256 or sha256_hex(data),
                          size=len(data))
        blob = self._container.get_blob_client(name)
        with storage_errors("writing evidence " + name):
            try:
                blob.upload_blob(
                    data,
                    metadata={"sha256": ref.sha256},
                    content_settings=ContentSettings(content_type=content_type),
                    overwrite=False,  # the SDK sends If-None-Match: * (create only)
                )
            except ResourceExistsError:
                existing = self.verify_evidence(ref)
                if not existing:
                    raise EvidenceError(
                        f"evidence {name} already exists with different content "
                        f"({existing.reason}); it is never overwritten"
                    ) from None
        return ref

    def verify_evidence(self, ref: EvidenceRef) -> EvidenceCheck:
        """Re-download the blob (streaming) and recompute its SHA-256 against the reference."""
        from azure.core.exceptions import ResourceNotFoundError

        digest = hashlib.sha256()
        size = 0
        with storage_errors("verifying evidence " + ref.name):
            try:
                download = self._container.get_blob_client(ref.name).download_blob()
            except ResourceNotFoundError:
                return EvidenceCheck(ok=False, reason=f"evidence {ref.name} is missing")
            if download.size != ref.size:
                return EvidenceCheck(
                    ok=False, reason=f"size is {download.size} bytes, expected {ref.size}"
                )
            for chunk in download.chunks():
                digest.update(chunk)
                size += len(chunk)
        actual = digest.hexdigest()
        if actual != ref.sha256.lower():
            return EvidenceCheck(
                ok=False, sha256=actual, reason=f"SHA-256 is {actual}, expected {ref.sha256}"
            )
        return EvidenceCheck(ok=True, sha256=actual)

    def put_or_adopt(self, name: str, data: bytes, *, content_type: str,
                     sha256: str | None = None) -> tuple[EvidenceRef, bytes]:
        """`put_evidence`, except that when `name` already holds other bytes (written by an
        earlier try of the same step, before it could record them) those are kept and returned:
        what was written first is the evidence."""
        try:
            return self.put_evidence(name, data, content_type=content_type,
                                     sha256=sha256), data
        except EvidenceError:
            return self.adopt(name)

    def adopt(self, name: str) -> tuple[EvidenceRef, bytes]:
        """An existing blob's reference and bytes, hashed as stored now.

        For a retried step whose first try wrote `name` before it could record the reference:
        what was written first is the evidence and is kept.
        """
        from azure.core.exceptions import ResourceNotFoundError

        with storage_errors("reading evidence " + name):
            try:
                download = self._container.get_blob_client(checked_name(name)).download_blob()
                data: bytes = download.readall()
            except ResourceNotFoundError:
                raise EvidenceError(f"evidence {name} is missing") from None
        ref = EvidenceRef(name=name, sha256=sha256_hex(data), size=len(data))
        written = (download.properties.metadata or {}).get("sha256")
        if written != ref.sha256:
            raise EvidenceError(f"evidence {name} does not match the SHA-256 it was written with")
        return ref, data

    def read_evidence(self, ref: EvidenceRef) -> bytes:
        """The blob's bytes, refused with EvidenceError unless they match the reference."""
        from azure.core.exceptions import ResourceNotFoundError

        with storage_errors("reading evidence " + ref.name):
            try:
                data: bytes = self._container.get_blob_client(ref.name).download_blob().readall()
            except ResourceNotFoundError:
                raise EvidenceError(f"evidence {ref.name} is missing") from None
        if len(data) != ref.size or sha256_hex(data) != ref.sha256.lower():
            raise EvidenceError(f"evidence {ref.name} does not match its recorded SHA-256")
        return data
