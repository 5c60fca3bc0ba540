"""schemathesis over `make serve`'s routes (local.serve.LocalApi on 127.0.0.1 with Azurite and
the Graph emulator), with a function key and a bearer token, every check it has: no 5xx from any
input, every answer documented and matching its schema, schema-valid requests accepted,
schema-invalid ones refused, undeclared methods answered 405 with Allow, missing credentials
refused. Bounded: a few derandomized examples per operation and phase, no deadline.

Two things JSON Schema cannot say are taught to the generator, as the document describes them:
times are drawn from the 30 days Graph keeps (a window outside them is a documented 400), and a
valid review window ends after it starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shared.api import openapi
from tests.fixtures.api import ApiClient

EXAMPLES = 6
RECENT_MINUTES = 29 * 24 * 60


def _recent(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


schemathesis.openapi.format("date-time", st.integers(1, RECENT_MINUTES).map(_recent))


def _window_breaks_a_documented_rule(body: Any) -> bool:
    if not isinstance(body, dict) or "start" not in body or "end" not in body:
        return False
    try:
        start, end = (datetime.fromisoformat(str(body[k]).replace("Z", "+00:00"))
                      for k in ("start", "end"))
    except ValueError:
        return False
    return start >= end


schema = schemathesis.openapi.from_dict(openapi.document())
# schemathesis's lazy fixture loader reads a pytest attribute pytest 9 removed: load eagerly and
# give each call the session server's address and credentials instead.


@schema.hook
def filter_case(context: Any, case: Any) -> bool:
    """A positive review case keeps to the window rules the document states in words."""
    positive = case.meta is None or case.meta.generation.mode.is_positive
    return not (positive and case.method == "POST" and case.path == "/reviews"
                and _window_breaks_a_documented_rule(case.body))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_check_passes(api: ApiClient, case: Any) -> None:
    case.call_and_validate(base_url=api.server.base_url + "/api", timeout=60, headers={
        "x-functions-key": api.server.function_key,
        "Authorization": f"Bearer {api.issuer.mint()}",
    })
