"""Graph's response shapes: the error body, the OData collection envelope, the skip token."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

JSON_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
             "IEEE754Compatible=false;charset=utf-8")
GRAPH_HOST = "https://graph.microsoft.com"


class GraphFault(Exception):
    """An answer other than success, carried to the server as Graph would send it."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """Graph's error JSON: {"error": {"code", "message", "innerError": {...}}}."""
    return {"error": {"code": code, "message": message, "innerError": {
        "date": now_iso(), "request-id": request_id, "client-request-id": request_id,
    }}}


def new_request_id() -> str:
    return str(uuid.uuid4())


def context_url(version: str, fragment: str) -> str:
    return f"{GRAPH_HOST}/{version}/$metadata#{fragment}"


def collection(version: str, fragment: str, rows: list[dict[str, Any]],
               next_link: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": context_url(version, fragment)}
    if next_link:
        body["@odata.nextLink"] = next_link
    body["value"] = rows
    return body


def encode_skiptoken(state: dict[str, Any]) -> str:
    """Opaque to clients: the query and the position it reached, so the link alone continues."""
    return base64.urlsafe_b64encode(msgspec.json.encode(state)).decode().rstrip("=")


def decode_skiptoken(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise GraphFault(400, "BadRequest", "Invalid $skiptoken.") from exc
    if not isinstance(state, dict):
        raise GraphFault(400, "BadRequest", "Invalid $skiptoken.")
    return state
