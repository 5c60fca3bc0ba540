"""`handle`: one entry for every HTTP route; errors become problem documents here and only here.

Every answer carries a correlation id (the caller's `x-correlation-id` when it is a sane token,
else a fresh one) that every log line of the request carries too. No exception escapes: a bug
answers 500 with the correlation id, and its traceback goes to the logs, not to the caller.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Callable
from dataclasses import replace

from shared.api import attestations, openapi, remediation, reviews, swagger
from shared.api.messages import ApiRequest, ApiResponse, json_response
from shared.api.problems import from_error, internal_error, problem
from shared.api.validation import check_query
from shared.errors import SigninReviewError
from shared.logs import bound, event
from shared.services import Services

Handler = Callable[[Services, ApiRequest], ApiResponse]

_CORRELATION = re.compile(r"[A-Za-z0-9._-]{8,64}")


def health(services: Services, request: ApiRequest) -> ApiResponse:
    return json_response(200, {"status": "ok"})


def serve_openapi(services: Services, request: ApiRequest) -> ApiResponse:
    return openapi.serve()


def serve_swagger(services: Services, request: ApiRequest) -> ApiResponse:
    return swagger.serve()


ROUTES: dict[str, Handler] = {
    "health": health,
    "openapi": serve_openapi,
    "swagger": serve_swagger,
    "create_review": reviews.create_review,
    "get_review": reviews.get_review,
    "get_user_verdict": reviews.get_user_verdict,
    "get_report": reviews.get_report,
    "get_approver_report": reviews.get_approver_report,
    "create_remediation": remediation.create_remediation,
    "create_attestation": attestations.create_attestation,
    "create_approver_attestation": attestations.create_approver_attestation,
}


def correlation_id(headers: dict[str, str]) -> str:
    given = headers.get("x-correlation-id", "")
    return given if _CORRELATION.fullmatch(given) else uuid.uuid4().hex


def handle(services: Services, route: str, request: ApiRequest) -> ApiResponse:
    """The answer to one request on the named route (function_app.py's route names)."""
    cid = correlation_id(request.headers)
    request = replace(request, correlation_id=cid)
    with bound(correlationId=cid):
        response = _dispatch(services, route, request)
        response.headers.update({
            "x-correlation-id": cid,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        })
        event("api.request", route=route, method=request.method, status=response.status)
        return response


def _dispatch(services: Services, route: str, request: ApiRequest) -> ApiResponse:
    handler = ROUTES.get(route)
    if handler is None:
        return problem(404, "no such route", correlation_id=request.correlation_id)
    try:
        check_query(request)
        return handler(services, request)
    except SigninReviewError as exc:
        answer = from_error(exc, request.correlation_id)
        level = logging.WARNING if answer.status >= 500 else logging.INFO
        event("api.refused", level, status=answer.status, error=type(exc).__name__,
              detail=exc.message[:300], **exc.context())
        return answer
    except Exception as exc:  # a bug: the caller gets the correlation id, the logs the rest
        event("api.internal_error", logging.ERROR, error=type(exc).__name__,
              traceback="".join(traceback.format_exception(exc))[-4000:])
        return internal_error(request.correlation_id)
