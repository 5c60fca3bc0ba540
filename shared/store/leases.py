"""Blob leases: one holder at a time across every instance of the function app.

Graph's sign-in throttle is per app and tenant, shared by every instance: fetchers running side by
side only trade throughput for 429s. The fetch step takes the tenant's fetch lease before calling
Graph and renews it as pages come in; an instance that finds it taken puts its message back for
later instead of fetching. A holder that dies loses the lease when it expires.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from shared.store.retry import storage_errors

if TYPE_CHECKING:
    from azure.storage.blob import BlobLeaseClient, ContainerClient

LEASE_SECONDS = 60  # Blob storage allows 15 to 60 s, or infinite (never: a crash would keep it)


class Lease:
    """A held lease on `name` in a container; renew it within LEASE_SECONDS, release when done."""

    def __init__(self, client: BlobLeaseClient, name: str) -> None:
        self._client = client
        self.name = name

    def renew(self) -> None:
        with storage_errors("renewing lease " + self.name):
            self._client.renew()

    def release(self) -> None:
        with storage_errors("releasing lease " + self.name):
            self._client.release()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def try_lease(container: ContainerClient, name: str, *, seconds: int = LEASE_SECONDS
              ) -> Lease | None:
    """Take the lease on blob `name` (created empty if missing); None while someone holds it."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

    blob = container.get_blob_client(name)
    with storage_errors("taking lease " + name):
        for _ in range(2):
            try:
                return Lease(blob.acquire_lease(lease_duration=seconds), name)
            except ResourceNotFoundError:
                try:
                    blob.upload_blob(b"", overwrite=False)  # the first fetch ever: make the blob
                except ResourceExistsError:
                    pass
            except HttpResponseError as exc:
                if exc.status_code == 409:  # LeaseAlreadyPresent: another instance is fetching
                    return None
                raise
    return None
