"""The quarterly review of privileged accounts (see shared.privileged.review)."""

from shared.privileged.review import Holdings, review_privileged
from shared.privileged.usage import LEGACY_CLIENTS, device_state, is_legacy

__all__ = ["LEGACY_CLIENTS", "Holdings", "device_state", "is_legacy", "review_privileged"]
