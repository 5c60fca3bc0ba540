"""legacy_protocol and device_code over the named sequences in tests/data/detect/ (files
legacy_protocol.json and device_code.json: benign and hostile side by side)."""

from pathlib import Path

import pytest

from shared.detect import protocols
from shared.imports import read_paths
from tests.unit.detect_sequences import build, cases, check

LEGACY = cases("legacy_protocol")
DEVICE_CODE = cases("device_code")


@pytest.mark.parametrize("case", LEGACY, ids=[case["name"] for case in LEGACY])
def test_legacy_protocol(case):
    sign_ins, context = build(case)
    check(case, protocols.detect_legacy(sign_ins, context), sign_ins, context)


@pytest.mark.parametrize("case", DEVICE_CODE, ids=[case["name"] for case in DEVICE_CODE])
def test_device_code(case):
    sign_ins, context = build(case)
    check(case, protocols.detect_device_code(sign_ins, context), sign_ins, context)


PANTHER = Path(__file__).resolve().parents[1] / "data" / "public" / "panther-analysis"


def test_public_records_of_legacy_clients_and_device_code():
    """Panther's labelled test events: legacy authentication (Authenticated SMTP; ROPC from
    "Other clients") and device code sign-ins (authenticationProtocol deviceCode) read as such."""
    legacy = read_paths([PANTHER / "azure_legacyauth.jsonl",
                         PANTHER / "azure_ropc_login_no_mfa.jsonl"]).sign_ins
    assert legacy and all(protocols.is_legacy(s) for s in legacy)
    codes = read_paths([PANTHER / "azure_device_code_broker_client.jsonl"]).sign_ins
    assert len(codes) == 2 and all(protocols.is_device_code(s) for s in codes)
    assert not any(protocols.is_device_code(s) for s in legacy)
