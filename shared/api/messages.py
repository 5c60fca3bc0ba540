"""What an HTTP route receives and answers, free of any web framework.

`function_app.py` turns the platform's request into an `ApiRequest` (header names in lower case)
and an `ApiResponse` back into the platform's response; `local.serve` does the same over a plain
socket. Everything in `shared.api` works on these two records only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    url: str
    route_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    correlation_id: str = ""  # set by `handle`, echoed in problems and logs

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` of the URL the caller used, for absolute links."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@dataclass
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, value: Any, *, headers: dict[str, str] | None = None,
                  content_type: str = JSON) -> ApiResponse:
    """`value` (builtins or msgspec Structs) as a JSON response."""
    return ApiResponse(status, msgspec.json.encode(value),
                       {"Content-Type": content_type, **(headers or {})})
