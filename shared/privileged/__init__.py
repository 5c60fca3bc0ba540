"""The quarterly review of privileged accounts (see shared.privileged.review)."""

from shared.detect.protocols import LEGACY_CLIENTS, is_legacy
from shared.privileged.review import Holdings, review_privileged
from shared.privileged.usage import device_state

__all__ = ["LEGACY_CLIENTS", "Holdings", "device_state", "is_legacy", "review_privileged"]
