"""Storage service clients built from the settings, and `ensure_resources`.

Locally (Azurite) the settings carry a connection string; in Azure they carry identity-based
service URIs (AzureWebJobsStorage__blobServiceUri ...) and the client id of the user-assigned
managed identity, and shared keys are off. The azure SDKs are imported on first use, so importing
this module (and `function_app`) stays cheap.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.config import Settings
from shared.errors import ConfigError
from shared.store.names import ResourceNames
from shared.store.retry import (
    DEFAULT_RETRY,
    RetrySchedule,
    blob_queue_retry_policy,
    storage_errors,
    table_retry_options,
)

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient, QueueServiceClient


class StorageClients:
    """Blob, Table and Queue service clients for one storage account, made on first use.

    One instance per process (or per thread, for a runner that drains queues concurrently);
    `prefix` gives tests a private copy of every container, table and queue.
    """

    def __init__(
        self, settings: Settings, *, prefix: str = "", retry: RetrySchedule = DEFAULT_RETRY
    ) -> None:
        self.settings = settings
        self.names = ResourceNames(prefix)
        self.retry = retry
        self._check_configured()

    def _check_configured(self) -> None:
        s = self.settings
        if s.storage_connection_string:
            return
        uris = {
            "AzureWebJobsStorage__blobServiceUri": s.blob_service_uri,
            "AzureWebJobsStorage__queueServiceUri": s.queue_service_uri,
            "AzureWebJobsStorage__tableServiceUri": s.table_service_uri,
        }
        missing = [name for name, value in uris.items() if not value]
        if len(missing) == len(uris):
            raise ConfigError(
                "storage is not configured: set AzureWebJobsStorage (a connection string) or "
                "the identity-based AzureWebJobsStorage__blob/queue/tableServiceUri settings"
            )
        if missing:
            raise ConfigError(f"storage service URIs incomplete: {', '.join(missing)} missing")

    @cached_property
    def _credential(self) -> Any:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=self.settings.storage_client_id)

    @cached_property
    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient, ExponentialRetry

        policy = blob_queue_retry_policy(ExponentialRetry, self.retry)
        conn = self.settings.storage_connection_string
        if conn:
            return BlobServiceClient.from_connection_string(conn, retry_policy=policy)
        return BlobServiceClient(
            str(self.settings.blob_service_uri), credential=self._credential, retry_policy=policy
        )

    @cached_property
    def table_service(self) -> TableServiceClient:
        from azure.data.tables import TableServiceClient

        options = table_retry_options(self.retry)
        conn = self.settings.storage_connection_string
        if conn:
            return TableServiceClient.from_connection_string(conn, **options)
        return TableServiceClient(
            str(self.settings.table_service_uri), credential=self._credential, **options
        )

    @cached_property
    def queue_service(self) -> QueueServiceClient:
        from azure.storage.queue import ExponentialRetry, QueueServiceClient

        policy = blob_queue_retry_policy(ExponentialRetry, self.retry)
        conn = self.settings.storage_connection_string
        if conn:
            return QueueServiceClient.from_connection_string(conn, retry_policy=policy)
        return QueueServiceClient(
            str(self.settings.queue_service_uri), credential=self._credential, retry_policy=policy
        )

    def container(self, name: str) -> ContainerClient:
        return self.blob_service.get_container_client(name)

    def table(self, name: str) -> TableClient:
        return self.table_service.get_table_client(name)

    def queue(self, name: str) -> QueueClient:
        """A queue client that sends and receives base64 (as the Functions host expects: host.json
        says messageEncoding base64). The service client does not pass encoding policies on to
        the queue clients it makes, so they are given here."""
        from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy

        return self.queue_service.get_queue_client(
            name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
        )

    def ensure_resources(self) -> None:
        """Create every container, table and queue that is missing. Idempotent."""
        from azure.core.exceptions import ResourceExistsError

        with storage_errors("creating storage resources"):
            for container in self.names.containers():
                try:
                    self.blob_service.create_container(container)
                except ResourceExistsError:
                    pass
            for table in self.names.tables():
                self.table_service.create_table_if_not_exists(table)
            for queue in self.names.queues():
                try:
                    self.queue_service.create_queue(queue)
                except ResourceExistsError:
                    pass

    def close(self) -> None:
        for name in ("blob_service", "table_service", "queue_service"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()


def ensure_resources(
    settings: Settings, *, prefix: str = "", retry: RetrySchedule = DEFAULT_RETRY
) -> StorageClients:
    """Create the containers, tables and queues if missing (the local runner and tests call
    this; in Azure, Bicep creates them). Returns the clients it used."""
    clients = StorageClients(settings, prefix=prefix, retry=retry)
    clients.ensure_resources()
    return clients
