"""POST /api/reviews and the GET routes over real HTTP: answers, window and user checks, and
hostile strings that must neither widen a Graph query nor come back unescaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from tests.fixtures.api import (
    ALICE,
    BOB,
    ApiClient,
    new_run_id,
    overwrite_blob,
    seed_run,
    seed_verdict,
)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def review(api: ApiClient, body: dict[str, Any], **kw: Any) -> Any:
    return api.call("POST", "/api/reviews", json=body, **kw)


def test_run_status_names_progress_failures_and_sources(api: ApiClient) -> None:
    from shared.model import DataSource

    run_id = new_run_id()
    seed_run(api.services, run_id, status="scoring", ticket_id="INC-42",
             slice_ids=["s000", "s001", "s002"], slices_done=["s000", "s001"],
             slices_failed={"s002": "Graph 503 after 8 tries"}, sign_ins=120, users=7,
             sources=[DataSource("signIns", True, "v1.0"),
                      DataSource("riskDetections", False, "no Entra ID P2 licence")])
    run = api.call("GET", f"/api/reviews/{run_id}").json()
    assert (run["status"], run["ticketId"], run["counts"]["signIns"]) == ("scoring", "INC-42", 120)
    assert run["slices"] == {"total": 3, "done": 2,
                             "failed": [{"id": "s002", "reason": "Graph 503 after 8 tries"}]}
    assert run["sources"]["missing"] == [{"name": "riskDetections",
                                          "detail": "no Entra ID P2 licence"}]
    assert "report" not in run["links"]


def test_unknown_run_is_404_and_bad_run_id_400(api: ApiClient) -> None:
    assert api.call("GET", f"/api/reviews/{new_run_id()}").status_code == 404
    bad = api.call("GET", "/api/reviews/a..b")
    assert (bad.status_code, bad.json()["field"]) == (400, "runId")


def test_user_verdict_has_evidence_names_and_hashes(api: ApiClient) -> None:
    run_id = new_run_id()
    verdict = seed_verdict(api.services, run_id, ALICE)
    answer = api.call("GET", f"/api/reviews/{run_id}/users/{ALICE.upper()}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["userId"], body["verdict"], body["runId"]) == (ALICE, "high", run_id)
    assert [(e["kind"], e["name"], e["sha256"]) for e in body["evidence"]] == \
        [("bundle", verdict.evidence.name, verdict.evidence.sha256)] + \
        [("page", p.name, p.sha256) for p in verdict.pages]
    assert body["links"]["self"] == f"/api/reviews/{run_id}/users/{ALICE}"


def test_user_path_parameter_is_validated(api: ApiClient) -> None:
    run_id = new_run_id()
    for user in ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "x'%20or%201%20eq%201", "nobody"):
        answer = api.call("GET", f"/api/reviews/{run_id}/users/{user}")
        assert (answer.status_code, answer.json()["field"]) == (400, "userId")
        assert b"<script>" not in answer.content
    missing = api.call("GET", f"/api/reviews/{run_id}/users/alice@contoso.com")
    assert missing.status_code == 404


def test_report_is_404_until_finished_then_html_with_a_strict_policy(api: ApiClient) -> None:
    run_id = new_run_id()
    seed_run(api.services, run_id, status="scoring")
    assert api.call("GET", f"/api/reviews/{run_id}/report").status_code == 404
    finished = new_run_id()
    html = b"<!doctype html><title>r</title><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    seed_run(api.services, finished, report_html=html)
    answer = api.call("GET", f"/api/reviews/{finished}/report")
    assert answer.status_code == 200 and answer.content == html
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    run = api.call("GET", f"/api/reviews/{finished}").json()
    assert run["links"]["report"] == f"/api/reviews/{finished}/report"


def test_altered_report_is_not_served(api: ApiClient) -> None:
    run_id = new_run_id()
    run = seed_run(api.services, run_id, report_html=b"<p>original</p>")
    overwrite_blob(api.services, run.reports["html"].name, b"<script>alert(1)</script>")
    answer = api.call("GET", f"/api/reviews/{run_id}/report")
    assert answer.status_code == 409 and b"<script>" not in answer.content


def test_tenant_review_answers_202_with_where_to_watch(api: ApiClient) -> None:
    now = datetime.now(UTC)
    answer = review(api, {"scope": "tenant", "start": iso(now - timedelta(days=3)),
                          "end": iso(now - timedelta(days=1)), "ticketId": "INC-7"})
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "fetching"
    assert answer.headers["location"] == api.server.base_url + body["statusUrl"]
    run = api.call("GET", body["statusUrl"]).json()
    # 48 hours in the default 24-hour slices (SLICE_HOURS)
    assert (run["kind"], run["ticketId"], run["slices"]["total"]) == ("tenant", "INC-7", 2)


def test_privileged_review_with_a_look_back(api: ApiClient) -> None:
    answer = review(api, {"scope": "privileged", "lookbackHours": 24})
    assert answer.status_code == 202
    run = api.call("GET", answer.json()["statusUrl"]).json()
    assert run["kind"] == "privileged"


def test_one_user_review_answers_with_the_verdict(api: ApiClient) -> None:
    pytest.importorskip("shared.pipeline.adhoc")
    answer = review(api, {"user": "o'brien@contoso.com", "lookbackHours": 48,
                          "ticketId": "INC-9"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["verdict"] in ("none", "low", "medium", "high")
    assert body["evidence"] and body["links"]["self"].startswith(f"/api/reviews/{body['runId']}")
    filters = [c["query"].get("$filter", "") for c in api.graph.calls
               if c["path"].endswith("/auditLogs/signIns")]
    assert filters and all("userPrincipalName eq 'o''brien@contoso.com'" in f for f in filters)
    again = api.call("GET", body["links"]["self"])
    assert again.status_code == 200 and again.json()["runId"] == body["runId"]


def test_one_user_review_by_object_id(api: ApiClient) -> None:
    pytest.importorskip("shared.pipeline.adhoc")
    answer = review(api, {"user": BOB.upper()})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["userId"] == BOB


NOW = datetime.now(UTC)
INVALID_REVIEWS = [
    ({"user": "x' or 1 eq 1"}, "user"),
    ({"user": "<script>alert(1)</script>"}, "user"),
    ({"user": "alice@contoso.com", "scope": "tenant"}, "scope"),
    ({}, "user"),
    ({"scope": "everyone"}, "scope"),
    ({"scope": "tenant", "lookbackHours": 0}, "lookbackHours"),
    ({"scope": "tenant", "lookbackHours": 721}, "lookbackHours"),
    ({"scope": "tenant", "lookbackHours": "72"}, "lookbackHours"),
    ({"scope": "tenant", "start": iso(NOW - timedelta(days=1))}, "end"),
    ({"scope": "tenant", "start": iso(NOW - timedelta(hours=1)),
      "end": iso(NOW - timedelta(hours=2))}, "end"),
    ({"scope": "tenant", "start": iso(NOW - timedelta(hours=1)),
      "end": iso(NOW + timedelta(days=1))}, "end"),
    ({"scope": "tenant", "start": iso(NOW - timedelta(days=40)),
      "end": iso(NOW - timedelta(days=35))}, "start"),
    ({"scope": "tenant", "start": "2025-03-01T00:00:00", "end": "2025-03-02T00:00:00"}, "start"),
    ({"scope": "tenant", "start": iso(NOW - timedelta(days=2)), "end": iso(NOW),
      "lookbackHours": 5}, "lookbackHours"),
    ({"scope": "tenant", "ticketId": "INC 1; DROP"}, "ticketId"),
    ({"scope": "tenant", "lookbackHour": 5}, "lookbackHour"),
    ({"scope": "tenant", "source": "splunk"}, "source"),
    # a quarter Graph keeps nothing of: every administrator would read as dormant
    ({"scope": "privileged", "start": iso(NOW - timedelta(days=120)),
      "end": iso(NOW - timedelta(days=35))}, "end"),
]


@pytest.mark.parametrize("body", [{"scope": "tenant", "source": "archive"},
                                  {"user": "alice@contoso.com", "source": "log-analytics"}])
def test_a_source_this_deployment_has_not_set_up_is_409(api: ApiClient,
                                                        body: dict[str, Any]) -> None:
    """A valid request (the document lists every source) that this deployment cannot serve: the
    answer names the missing setting and nothing is read."""
    answer = review(api, body)
    assert answer.status_code == 409, answer.json()
    assert "not set up in this deployment" in answer.json()["detail"]
    assert api.graph.calls == []


@pytest.mark.parametrize(("body", "field"), INVALID_REVIEWS)
def test_invalid_review_is_400_naming_the_field(api: ApiClient, body: dict[str, Any],
                                                field: str) -> None:
    answer = review(api, body)
    assert (answer.status_code, answer.json().get("field")) == (400, field), answer.json()
    assert api.graph.calls == []


def test_unknown_query_parameter_and_wrong_content_type(api: ApiClient) -> None:
    extra = api.call("GET", f"/api/reviews/{new_run_id()}?debug=1")
    assert (extra.status_code, extra.json()["field"]) == (400, "debug")
    text = api.call("POST", "/api/reviews", body=b"scope=tenant",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert text.status_code == 415


def test_correlation_id_is_echoed_when_sane(api: ApiClient) -> None:
    given = api.call("GET", "/api/health", headers={"x-correlation-id": "ticket-1234-abcd"})
    assert given.headers["x-correlation-id"] == "ticket-1234-abcd"
    hostile = api.call("GET", "/api/health", headers={"x-correlation-id": "<script>"})
    assert hostile.headers["x-correlation-id"] != "<script>"


def test_one_user_review_that_outlasts_its_budget_answers_202(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azure cuts HTTP answers off at 230 s; a review Graph keeps waiting (slow queries, a busy
    budget) answers 202 with where to watch it before then, and its queue function finishes
    it. The run record exists before the answer: the status URL never answers 404."""
    import time

    services = api.services
    monkeypatch.setattr(services, "settings", replace(services.settings,
                                                      adhoc_sync_seconds=0.5))
    api.graph.configure(hold_path="/auditLogs/signIns")  # no answer until released
    answer = review(api, {"user": BOB, "lookbackHours": 24, "ticketId": "INC-11"})
    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert body["runId"].startswith("user-") and body["status"] in ("queued", "fetching")
    assert answer.headers["location"] == api.server.base_url + body["statusUrl"]
    assert int(answer.headers["retry-after"]) > 0
    first = api.call("GET", body["statusUrl"])
    assert first.status_code == 200 and first.json()["status"] in ("queued", "fetching")
    api.graph.release_held()
    deadline = time.monotonic() + 300  # a hang guard, not a timing assumption
    run: dict[str, Any] = {}
    while run.get("status") not in ("complete", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        watched = api.call("GET", body["statusUrl"])
        assert watched.status_code == 200
        run = watched.json()
    assert run["status"] == "complete" and run["ticketId"] == "INC-11"
    verdict = api.call("GET", run["links"]["user"])
    assert verdict.status_code == 200 and verdict.json()["userId"] == BOB


def test_a_fifth_concurrent_one_user_review_has_a_status_url_at_once(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five reviews at once while Graph holds every sign-in query: each first answer is a 202
    whose status URL already answers (the run record is written before the answer), whatever
    the worker is doing; none waits for a thread of the HTTP worker."""
    from concurrent.futures import ThreadPoolExecutor

    services = api.services
    monkeypatch.setattr(services, "settings", replace(services.settings,
                                                      adhoc_sync_seconds=0.5))
    api.graph.configure(hold_path="/auditLogs/signIns")
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(
                lambda n: review(api, {"user": ALICE, "lookbackHours": 24,
                                       "ticketId": f"INC-5{n}"}), range(5)))
        assert [a.status_code for a in answers] == [202] * 5, [a.json() for a in answers]
        assert len({a.json()["runId"] for a in answers}) == 5
        for answer in answers:
            run = api.call("GET", answer.json()["statusUrl"])
            assert run.status_code == 200, answer.json()
            assert run.json()["status"] in ("queued", "fetching")
    finally:
        api.graph.release_held()


def test_a_one_user_review_that_fails_answers_a_problem_naming_the_run(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph refuses the sign-in log (no licence): the queue function ends the run `failed` at
    once (a retry cannot fix it) and the waiting request answers 502 with the run and why."""
    monkeypatch.setattr(api.services, "settings", replace(api.services.settings,
                                                          adhoc_sync_seconds=60))
    api.graph.configure(premium=False)
    answer = review(api, {"user": ALICE, "lookbackHours": 24})
    assert answer.status_code == 502, answer.json()
    problem = answer.json()
    run = api.call("GET", f"/api/reviews/{problem['runId']}").json()
    assert run["status"] == "failed" and run["failure"] in problem["detail"]
