"""The storage emulator itself: proves the fixture gives a working, loopback-only Azurite."""

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient


def test_blob_round_trip(storage_connection_string: str) -> None:
    service = BlobServiceClient.from_connection_string(storage_connection_string)
    assert "127.0.0.1" in service.url
    container = service.get_container_client("fixture-check")
    container.create_container()
    container.upload_blob("hello.txt", b"hello")
    assert container.download_blob("hello.txt").readall() == b"hello"
    container.delete_container()


def test_queue_round_trip(storage_connection_string: str) -> None:
    service = QueueServiceClient.from_connection_string(storage_connection_string)
    queue = service.get_queue_client("fixture-check")
    queue.create_queue()
    queue.send_message("ping")
    assert [m.content for m in queue.receive_messages()] == ["ping"]
    queue.delete_queue()
