"""Client construction from settings, and resource names with a prefix. No identity credential
is ever built here (it would probe the instance metadata address)."""

from __future__ import annotations

import pytest

from shared import config
from shared.errors import ConfigError, InputError
from shared.store import ResourceNames, StorageClients, poison


def test_no_storage_settings_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="storage is not configured"):
        StorageClients(config.load({}))


def test_incomplete_service_uris_name_the_missing_ones() -> None:
    settings = config.load({
        "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net",
        "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
    })
    with pytest.raises(ConfigError, match="tableServiceUri"):
        StorageClients(settings)


def test_a_connection_string_builds_loopback_clients(storage_connection_string: str) -> None:
    clients = StorageClients(config.load({"AzureWebJobsStorage": storage_connection_string}))
    for url in (clients.blob_service.url, clients.table_service.url, clients.queue_service.url):
        assert url.startswith("http://127.0.0.1:")
    clients.close()


def test_names_are_the_bound_names_and_prefixes_isolate_them() -> None:
    plain = ResourceNames()
    assert (plain.evidence, plain.work, plain.runs, plain.signin_slices) == (
        "evidence", "work", "runs", "signin-slices")
    assert poison(plain.user_scoring) == "user-scoring-poison"
    assert "run-ready-poison" in plain.queues()
    mine = ResourceNames("t42")
    assert (mine.verdicts, mine.evidence, mine.run_ready) == ("t42verdicts", "t42evidence",
                                                             "t42run-ready")


@pytest.mark.parametrize("bad", ["T1", "1t", "t-1", "t_1", "x" * 21])
def test_a_prefix_must_suit_every_service(bad: str) -> None:
    with pytest.raises(InputError):
        ResourceNames(bad)
