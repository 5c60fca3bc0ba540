"""The HTTP API's logic: request validation, the routes' handlers, problem documents, the
remediation caller check and the OpenAPI document. `function_app.py` calls `handle` only.

    answer = handle(services, "get_review", ApiRequest("GET", url, route_params={"runId": ...}))
"""

from shared.api.messages import ApiRequest, ApiResponse
from shared.api.routes import ROUTES, handle

__all__ = ["ROUTES", "ApiRequest", "ApiResponse", "handle"]
