"""Problem documents (RFC 7807) and the one place that maps `shared.errors` to HTTP statuses.

A problem names what is wrong (`detail`), which field (`field`, for request errors) and carries a
correlation id that the logs carry too. Server-side failures say as little as they can: the
detail of an unexpected error stays in the logs, never in the answer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from shared.api.messages import PROBLEM_JSON, ApiResponse, json_response
from shared.errors import (
    BodyTooLarge,
    ConfigError,
    ConflictError,
    EvidenceError,
    GraphError,
    InputError,
    NotFoundError,
    PermissionDenied,
    ServiceUnavailable,
    SigninReviewError,
    StorageError,
    Unauthenticated,
    UnsupportedContentType,
)

# First match wins: subclasses before their bases.
STATUS_BY_ERROR: tuple[tuple[type[SigninReviewError], int], ...] = (
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (BodyTooLarge, 413),
    (UnsupportedContentType, 415),
    (InputError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),  # includes ConcurrencyConflict
    (EvidenceError, 409),  # evidence missing or altered: the state forbids the request
    (ConfigError, 503),  # fail closed: a missing setting refuses the request, naming it
    (GraphError, 502),  # includes GraphUnavailable (licence or permission missing)
    (StorageError, 503),
    (ServiceUnavailable, 503),
)
MAX_DETAIL = 500


def status_for(error: SigninReviewError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


def problem(
    status: int,
    detail: str,
    *,
    correlation_id: str,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiResponse:
    """An `application/problem+json` response."""
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail[:MAX_DETAIL],
        "correlationId": correlation_id,
    }
    if field:
        document["field"] = field
    document.update(extra or {})
    return json_response(status, document, headers=headers, content_type=PROBLEM_JSON)


def from_error(error: SigninReviewError, correlation_id: str) -> ApiResponse:
    """The problem document for an error raised on purpose somewhere in the program."""
    status = status_for(error)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if status == 503:
        headers["Retry-After"] = "30"
    if status == 500:  # a bug or an unclassified failure: the message stays in the logs
        return internal_error(correlation_id)
    field = error.source if isinstance(error, InputError) else None
    message = error.message
    if field and message.startswith(f"{field}: "):
        message = message[len(field) + 2:]
    return problem(status, message, correlation_id=correlation_id, field=field,
                   extra=error.context(), headers=headers)


def internal_error(correlation_id: str) -> ApiResponse:
    return problem(
        500,
        "an internal error occurred; quote the correlation id when reporting it",
        correlation_id=correlation_id,
    )
