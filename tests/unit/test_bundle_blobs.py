"""Users' evidence bundles are stored several to a write-once blob; each user's verdict names the
blob, and readers pick the user's own bundle out of it. Blobs written before bundles were stored
together hold one user's bundle and are still read."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from shared.detect.context import TenantSignalsBuilder
from shared.errors import EvidenceError
from shared.model import Window
from shared.pipeline.scoring import (
    BundleBlob,
    ScoringContext,
    UserEvidence,
    UserInput,
    assess,
    stored_bundles,
    user_bundle,
)

WINDOW = Window(start=datetime(2025, 3, 14, 18, tzinfo=UTC),
                end=datetime(2025, 3, 17, 6, tzinfo=UTC))


def bundle(user_id: str) -> UserEvidence:
    context = ScoringContext(run_id="r1", window=WINDOW, signals=TenantSignalsBuilder().build(),
                             privileged={}, risky_users=[], risk_detections=[],
                             identity_protection=True, sources=[])
    return assess(context, None, UserInput(user_id=user_id, timeline=[], pages=[]))


def test_a_blob_of_bundles_gives_each_user_their_own() -> None:
    data = msgspec.json.encode(BundleBlob(bundles=[bundle("alice"), bundle("bob")]))
    assert [b.user_id for b in stored_bundles(data)] == ["alice", "bob"]
    assert user_bundle(data, "bob").user_id == "bob"
    assert user_bundle(data, "bob").verdict.user_id == "bob"


def test_a_single_users_bundle_from_before_is_still_read() -> None:
    data = msgspec.json.encode(bundle("alice"))
    assert user_bundle(data, "alice") == msgspec.json.decode(data, type=UserEvidence)


def test_a_blob_without_the_user_is_refused() -> None:
    data = msgspec.json.encode(BundleBlob(bundles=[bundle("alice")]))
    with pytest.raises(EvidenceError, match="no bundle for user mallory"):
        user_bundle(data, "mallory")
