"""Azure Functions triggers. Each one parses its trigger, calls one function in `shared`, returns.

No logic lives here; see shared/ for the program.
"""

from __future__ import annotations

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"status": "ok"}), mimetype="application/json", status_code=200
    )
