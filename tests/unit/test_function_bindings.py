"""The triggers as the Functions host will see them, read from function_app.py's own metadata.

Read in a child process: a FunctionApp hands out its functions once per app object.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared import config
from shared.store.names import ResourceNames

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, function_app
print(json.dumps({f.get_function_name(): json.loads(f.get_function_json())["bindings"]
                  for f in function_app.app.get_functions()}))
"""


@pytest.fixture(scope="module")
def bindings() -> dict[str, list[dict[str, object]]]:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=300)
    found: dict[str, list[dict[str, object]]] = json.loads(out.stdout)
    return found


def trigger(bindings: dict[str, list[dict[str, object]]], name: str) -> dict[str, object]:
    return next(b for b in bindings[name] if b["direction"] == "IN")


def test_timer_schedule_comes_from_a_setting(bindings: dict[str, list[dict[str, object]]]
                                             ) -> None:
    timer = trigger(bindings, "review_schedule")
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%REVIEW_SCHEDULE%"
    assert timer["runOnStartup"] is False  # a restart must never start a review by itself
    assert "REVIEW_SCHEDULE" in config.DEFAULTS
    quarterly = trigger(bindings, "privileged_review_schedule")
    assert quarterly["schedule"] == "%PRIVILEGED_REVIEW_SCHEDULE%"
    assert quarterly["runOnStartup"] is False
    assert "PRIVILEGED_REVIEW_SCHEDULE" in config.DEFAULTS


def test_stranded_run_timer_runs_on_the_documented_schedule(
        bindings: dict[str, list[dict[str, object]]]) -> None:
    from shared.pipeline.stranded import SCHEDULE

    timer = trigger(bindings, "stranded_runs")
    assert (timer["type"], timer["schedule"], timer["runOnStartup"]) == \
        ("timerTrigger", SCHEDULE, False)


def test_queue_triggers_use_the_store_queue_names(bindings: dict[str, list[dict[str, object]]]
                                                  ) -> None:
    names = ResourceNames()
    expected = {
        "fetch_slice": names.signin_slices, "plan_scoring": names.run_ready,
        "score_users": names.user_scoring, "review_user": names.review_user,
        "fetch_slice_poison": names.signin_slices + "-poison",
        "plan_scoring_poison": names.run_ready + "-poison",
        "score_users_poison": names.user_scoring + "-poison",
        "review_user_poison": names.review_user + "-poison",
    }
    for function, queue in expected.items():
        binding = trigger(bindings, function)
        assert binding["type"] == "queueTrigger"
        assert binding["queueName"] == queue
        assert binding["connection"] == "AzureWebJobsStorage"
    assert set(expected.values()) == set(names.queues())


def test_http_routes_and_auth_levels(bindings: dict[str, list[dict[str, object]]]) -> None:
    routes = {name: trigger(bindings, name) for name in bindings
              if trigger(bindings, name)["type"] == "httpTrigger"}
    levels = {(b["route"], tuple(b["methods"])): b["authLevel"]  # type: ignore[arg-type]
              for b in routes.values()}
    assert levels == {
        ("health", ("GET",)): "ANONYMOUS",
        ("openapi.json", ("GET",)): "ANONYMOUS",
        ("swagger.json", ("GET",)): "ANONYMOUS",
        ("reviews", ("POST",)): "FUNCTION",
        ("reviews/{runId}", ("GET",)): "FUNCTION",
        ("reviews/{runId}/users/{userId}", ("GET",)): "FUNCTION",
        ("reviews/{runId}/report", ("GET",)): "FUNCTION",
        # Entra sign-in by the platform (approvers) / Entra token checked in process (Logic App).
        ("approvals/reports/{runId}", ("GET",)): "ANONYMOUS",
        ("remediations", ("POST",)): "ANONYMOUS",
        ("privileged-reviews/{runId}/attestations", ("POST",)): "FUNCTION",
        ("approvals/privileged-reviews/{runId}/attestations", ("POST",)): "ANONYMOUS",
    }


def test_host_json_poison_and_encoding() -> None:
    host = json.loads((REPO / "host.json").read_text())
    queues = host["extensions"]["queues"]
    assert queues["messageEncoding"] == "base64"  # the store's queue clients send base64
    assert queues["maxDequeueCount"] == 5
    assert host["functionTimeout"] == "00:30:00"
