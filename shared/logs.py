"""Structured logging: one JSON object a line, with run, user and correlation ids on every line.

Logs carry ids and counts, never tokens or raw sign-in rows. In Azure the Functions host forwards
these lines to Application Insights, where `runId` follows one run end to end.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

_NONE: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=_NONE)

logger = logging.getLogger("signin_review")


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Attach ids (runId, userId, correlationId ...) to every log line inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: its name, the bound ids, and the given fields."""
    record = {"event": name, **_context.get(), **fields}
    logger.log(level, json.dumps(record, default=str, sort_keys=True))
