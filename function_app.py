"""Azure Functions triggers. Each one parses its trigger, calls one function in `shared`, returns.

No logic lives here; the program is the `shared` package. Heavy modules (Graph SDK, storage SDKs,
the pipeline) are imported inside the triggers so a cold start pays only for what it runs.
"""

from __future__ import annotations

import azure.functions as func

from shared.services import current

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

STORAGE = "AzureWebJobsStorage"


# --- the Monday (business-morning) review ---------------------------------------------------


@app.timer_trigger(arg_name="timer", schedule="%REVIEW_SCHEDULE%", run_on_startup=False)
def review_schedule(timer: func.TimerRequest) -> None:
    from shared.pipeline import steps

    steps.on_timer(current(), past_due=timer.past_due)


@app.timer_trigger(arg_name="timer", schedule="%PRIVILEGED_REVIEW_SCHEDULE%",
                   run_on_startup=False)
def privileged_review_schedule(timer: func.TimerRequest) -> None:
    from shared.pipeline import steps

    steps.on_privileged_timer(current(), past_due=timer.past_due)


# --- the queue-driven steps ----------------------------------------------------------------


@app.queue_trigger(arg_name="msg", queue_name="signin-slices", connection=STORAGE)
def fetch_slice(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.fetch_slice(current(), msg.get_body(), dequeue_count=msg.dequeue_count or 1,
                      message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="run-ready", connection=STORAGE)
def plan_scoring(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.plan_scoring(current(), msg.get_body(), dequeue_count=msg.dequeue_count or 1,
                      message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="user-scoring", connection=STORAGE)
def score_users(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.score_users(current(), msg.get_body(), dequeue_count=msg.dequeue_count or 1,
                      message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="signin-slices-poison", connection=STORAGE)
def fetch_slice_poison(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.on_poison(current(), "signin-slices", msg.get_body(), message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="run-ready-poison", connection=STORAGE)
def plan_scoring_poison(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.on_poison(current(), "run-ready", msg.get_body(), message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="user-scoring-poison", connection=STORAGE)
def score_users_poison(msg: func.QueueMessage) -> None:
    from shared.pipeline import steps

    steps.on_poison(current(), "user-scoring", msg.get_body(), message_id=msg.id)


# --- one-user reviews asked for over HTTP ---------------------------------------------------


@app.queue_trigger(arg_name="msg", queue_name="review-user", connection=STORAGE)
def review_user(msg: func.QueueMessage) -> None:
    from shared.pipeline import user_reviews

    user_reviews.on_message(current(), msg.get_body(), dequeue_count=msg.dequeue_count or 1,
                            message_id=msg.id)


@app.queue_trigger(arg_name="msg", queue_name="review-user-poison", connection=STORAGE)
def review_user_poison(msg: func.QueueMessage) -> None:
    from shared.pipeline import user_reviews

    user_reviews.on_poison(current(), msg.get_body(), message_id=msg.id)


# Every 15 minutes (shared/pipeline/stranded.py SCHEDULE, where the bound is derived).
@app.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False)
def stranded_runs(timer: func.TimerRequest) -> None:
    from shared.pipeline import stranded

    stranded.on_timer(current())


# --- HTTP: ad-hoc reviews for ticketing systems, approved remediation for the Logic App -----


def _http(req: func.HttpRequest, route: str) -> func.HttpResponse:
    from shared.api import ApiRequest, handle

    answer = handle(current(), route, ApiRequest(
        method=req.method,
        url=req.url,
        route_params=dict(req.route_params),
        query=dict(req.params),
        headers={k.lower(): v for k, v in req.headers.items()},
        body=req.get_body(),
    ))
    return func.HttpResponse(answer.body, status_code=answer.status, headers=answer.headers)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "health")


@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "openapi")


@app.route(route="swagger.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def swagger(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "swagger")


@app.route(route="reviews", methods=["POST"])
def create_review(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "create_review")


@app.route(route="reviews/{runId}", methods=["GET"])
def get_review(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "get_review")


@app.route(route="reviews/{runId}/users/{userId}", methods=["GET"])
def get_user_verdict(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "get_user_verdict")


@app.route(route="reviews/{runId}/report", methods=["GET"])
def get_report(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "get_report")


@app.route(route="approvals/reports/{runId}", methods=["GET"],
           auth_level=func.AuthLevel.ANONYMOUS)
def get_approver_report(req: func.HttpRequest) -> func.HttpResponse:
    # In Azure the platform's sign-in (Easy Auth) lets only the approvers' group reach this route.
    return _http(req, "get_approver_report")


@app.route(route="privileged-reviews/{runId}/attestations", methods=["POST"])
def create_attestation(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "create_attestation")


@app.route(route="approvals/privileged-reviews/{runId}/attestations", methods=["POST"],
           auth_level=func.AuthLevel.ANONYMOUS)
def create_approver_attestation(req: func.HttpRequest) -> func.HttpResponse:
    # As the approvers' report: the platform's sign-in lets only the approvers' group through.
    return _http(req, "create_approver_attestation")


# No function key: the route checks the caller's Entra token in process (shared/api/auth.py).
@app.route(route="remediations", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def create_remediation(req: func.HttpRequest) -> func.HttpResponse:
    return _http(req, "create_remediation")
