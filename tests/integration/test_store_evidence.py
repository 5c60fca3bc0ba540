"""Evidence blobs against Azurite: create-only, idempotent re-put, tamper detection, safe names."""

from __future__ import annotations

import hashlib

import pytest

from shared.errors import EvidenceError, InputError
from shared.store import (
    JSON,
    EvidenceRef,
    Store,
    manifest_name,
    page_name,
    remediation_name,
    user_bundle_name,
)

PAGE = b'{"value": [{"id": "s1", "createdDateTime": "2025-03-08T01:00:00Z"}]}'


def test_put_records_the_sha256_and_the_bytes(store: Store) -> None:
    ref = store.evidence.put_evidence(page_name("run1", "s0", 0), PAGE, content_type=JSON)
    assert ref == EvidenceRef(
        name="runs/run1/pages/s0/00000.json", sha256=hashlib.sha256(PAGE).hexdigest(),
        size=len(PAGE),
    )
    blob = store.clients.container(store.names.evidence).get_blob_client(ref.name)
    props = blob.get_blob_properties()
    assert props.metadata["sha256"] == ref.sha256
    assert props.content_settings.content_type == JSON
    assert store.evidence.read_evidence(ref) == PAGE
    assert store.evidence.verify_evidence(ref)


def test_same_bytes_again_return_the_same_ref_and_overwrite_nothing(store: Store) -> None:
    name = user_bundle_name("run1", "user-1")
    first = store.evidence.put_evidence(name, PAGE, content_type=JSON)
    blob = store.clients.container(store.names.evidence).get_blob_client(name)
    etag = blob.get_blob_properties().etag
    again = store.evidence.put_evidence(name, PAGE, content_type=JSON)  # a redelivered message
    assert again == first
    assert blob.get_blob_properties().etag == etag


def test_different_bytes_under_an_existing_name_are_refused(store: Store) -> None:
    name = manifest_name("run1")
    store.evidence.put_evidence(name, PAGE, content_type=JSON)
    with pytest.raises(EvidenceError, match="never overwritten"):
        store.evidence.put_evidence(name, PAGE.replace(b"s1", b"s2"), content_type=JSON)
    with pytest.raises(EvidenceError):
        store.evidence.put_evidence(name, PAGE + b" ", content_type=JSON)
    blob = store.clients.container(store.names.evidence).get_blob_client(name)
    assert blob.download_blob().readall() == PAGE


def test_a_blob_altered_behind_our_back_fails_verification(store: Store) -> None:
    ref = store.evidence.put_evidence(remediation_name("appr-7"), PAGE, content_type=JSON)
    tampered = PAGE.replace(b"s1", b"s9")  # same size, different content
    blob = store.clients.container(store.names.evidence).get_blob_client(ref.name)
    blob.upload_blob(tampered, overwrite=True, metadata={"sha256": ref.sha256})
    check = store.evidence.verify_evidence(ref)
    assert not check
    assert check.sha256 == hashlib.sha256(tampered).hexdigest()
    assert check.reason is not None and "SHA-256" in check.reason
    with pytest.raises(EvidenceError, match="does not match"):
        store.evidence.read_evidence(ref)


def test_a_truncated_blob_fails_on_size(store: Store) -> None:
    ref = store.evidence.put_evidence(page_name("run1", "s0", 1), PAGE, content_type=JSON)
    blob = store.clients.container(store.names.evidence).get_blob_client(ref.name)
    blob.upload_blob(PAGE[:10], overwrite=True)
    check = store.evidence.verify_evidence(ref)
    assert not check and check.reason is not None and "size" in check.reason


def test_missing_evidence_is_reported_not_raised(store: Store) -> None:
    ref = EvidenceRef(name=manifest_name("never"), sha256="0" * 64, size=3)
    check = store.evidence.verify_evidence(ref)
    assert not check.ok and check.reason is not None and "missing" in check.reason
    with pytest.raises(EvidenceError, match="missing"):
        store.evidence.read_evidence(ref)


def test_large_evidence_is_hashed_while_streaming(store: Store) -> None:
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB
    ref = store.evidence.put_evidence(page_name("run1", "s1", 2), data, content_type=JSON)
    assert store.evidence.verify_evidence(ref).sha256 == hashlib.sha256(data).hexdigest()


def test_user_ids_are_escaped_into_one_path_segment(store: Store) -> None:
    guest = "john_contoso.com#EXT#@tenant.onmicrosoft.com"
    assert user_bundle_name("r", guest) == (
        "runs/r/users/john_contoso.com%23EXT%23@tenant.onmicrosoft.com.json"
    )
    assert user_bundle_name("r", "o'brien@contoso.com") == "runs/r/users/o%27brien@contoso.com.json"
    assert user_bundle_name("r", "../../x") == "runs/r/users/..%2F..%2Fx.json"
    ref = store.evidence.put_evidence(user_bundle_name("r", guest), b"{}", content_type=JSON)
    names = [b.name for b in store.clients.container(store.names.evidence).list_blobs()]
    assert names == [ref.name]


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a..b", "run 1", "r?x", "r#1", "é", "x" * 129])
def test_run_ids_that_could_escape_their_folder_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        page_name(bad, "s0", 0)
    with pytest.raises(InputError):
        remediation_name(bad)


@pytest.mark.parametrize("bad", ["/abs.json", "runs//x.json", "runs/../x.json", "runs/./x", "a b"])
def test_put_refuses_unsafe_names(store: Store, bad: str) -> None:
    with pytest.raises(InputError):
        store.evidence.put_evidence(bad, b"{}", content_type=JSON)
