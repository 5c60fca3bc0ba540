"""The review as JSON: the documented output of `signin-review analyze` (camelCase)."""

from __future__ import annotations

import msgspec

from shared.model import ReviewResult


def render_json(result: ReviewResult, *, indent: int = 0) -> bytes:
    """msgspec's encoding of the ReviewResult; `indent` > 0 pretty-prints it."""
    encoded = msgspec.json.encode(result)
    return msgspec.json.format(encoded, indent=indent) if indent > 0 else encoded
