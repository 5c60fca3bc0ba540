"""The risk inventory: every risky sign-in and risk detection of the window, in JSON, CSV and HTML.

Graph facts behind the cases: risk levels (during sign-in, aggregated) are `none`, `low`,
`medium`, `high` or `hidden`, and tenants without Entra ID P2 get `hidden` on every sign-in
(Microsoft Graph signIn resource); riskState is `none`, `atRisk`, `confirmedCompromised`,
`remediated`, `dismissed` or `confirmedSafe`; detections carry activityDateTime and
detectedDateTime, and offline ones may be detected up to 48 hours late (riskDetection resource).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from shared.analysis import review
from shared.model import (
    DataSource,
    Location,
    ReviewResult,
    RiskDetection,
    RiskInventory,
    SignIn,
    Status,
    Window,
)
from shared.report import render_json, render_review, render_risk_csv, render_table
from shared.report.csv_report import RISK_COLUMNS
from shared.report.risk_table import risk_table
from shared.risk_inventory import RiskySignIns, hidden_only, risky
from tests.unit.test_report_sample import sample_review

T0 = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
WINDOW = Window(T0 - timedelta(hours=16), T0 + timedelta(hours=44))
PARIS = Location(city="Paris", state="Paris", country_or_region="FR")


def row(n: int, user: str = "erin", *, level: str | None = "none", aggregated: str | None = "none",
        state: str | None = "none", types: list[str] | None = None, code: int = 0,
        minutes: int = 0) -> SignIn:
    return SignIn(
        id=f"s{n}", created_date_time=T0 + timedelta(minutes=minutes), user_id=f"id-{user}",
        user_principal_name=f"{user}@contoso.com", ip_address=f"198.51.100.{n}",
        status=Status(error_code=code), location=PARIS, risk_level_during_sign_in=level,
        risk_level_aggregated=aggregated, risk_state=state, risk_event_types_v2=types or [],
    )


def detection(n: int, user: str = "erin", *, level: str = "low", state: str = "atRisk",
              kind: str = "unfamiliarFeatures", hours: float = 1.0,
              request: str | None = None) -> RiskDetection:
    at = T0 + timedelta(hours=hours)
    return RiskDetection(
        id=f"d{n}", risk_event_type=kind, risk_level=level, risk_state=state,
        detection_timing_type="offline", activity_date_time=at,
        detected_date_time=at + timedelta(hours=30), ip_address="203.0.113.9", location=PARIS,
        request_id=request, user_id=f"id-{user}", user_principal_name=f"{user}@contoso.com",
    )


# --- which sign-ins are risky -----------------------------------------------------------------

RISKY_CASES = {
    "plain": (row(1), False, False),
    "empty_fields": (row(2, level=None, aggregated=None, state=None), False, False),
    "low_during_sign_in": (row(3, level="low"), True, False),
    "aggregated_only": (row(4, aggregated="medium"), True, False),
    "dismissed_state_only": (row(5, state="dismissed"), True, False),
    "event_types_only": (row(6, types=["anonymizedIPAddress"]), True, False),
    "hidden_level_alone": (row(7, level="hidden", aggregated="hidden"), False, True),
    "hidden_level_with_state": (row(8, level="hidden", aggregated="hidden", state="atRisk"),
                                True, False),
    "unknown_future_value": (row(9, level="unknownFutureValue"), True, False),
}


@pytest.mark.parametrize("name", RISKY_CASES)
def test_which_sign_ins_are_risky(name: str) -> None:
    sign_in, is_risky, is_hidden = RISKY_CASES[name]
    assert risky(sign_in) is is_risky
    assert hidden_only(sign_in) is is_hidden


def test_hidden_levels_are_counted_and_kept_where_risk_shows() -> None:
    rows = [row(1, "ann", level="hidden", aggregated="hidden"),
            row(2, "ann", level="hidden", aggregated="hidden"),
            row(3, "bo", level="hidden", aggregated="hidden"),
            row(4, "cy", level="hidden", aggregated="hidden", types=["generic"])]
    inventory = RiskySignIns().add_all(rows).inventory([], WINDOW)
    assert (inventory.hidden_level_sign_ins, inventory.hidden_level_users) == (3, 2)
    (entry,) = inventory.entries
    assert (entry.sign_in_id, entry.level, entry.risk_types) == ("s4", "hidden", ["generic"])


def test_detections_outside_the_window_are_left_out_and_entries_are_in_time_order() -> None:
    detections = [detection(1, hours=3), detection(2, hours=-40), detection(3, hours=60),
                  detection(4, hours=0.5)]
    inventory = RiskySignIns().add_all([row(1, level="high", minutes=90)]).inventory(
        detections, WINDOW)
    assert [(e.kind, e.detection_id or e.sign_in_id) for e in inventory.entries] == [
        ("detection", "d4"), ("signIn", "s1"), ("detection", "d1")]
    first = inventory.entries[0]
    assert first.timing == "offline" and first.detected == first.time + timedelta(hours=30)


# --- the review carries it ------------------------------------------------------------------


def _review() -> ReviewResult:
    sign_ins = [row(1, "erin", level="low", state="dismissed", types=["unfamiliarFeatures"]),
                row(2, "erin", minutes=30), row(3, "gus", minutes=60)]
    detections = [detection(1, "erin", state="dismissed", request="s1"),
                  detection(2, "hal", kind="leakedCredentials", level="high", hours=5)]
    return review(sign_ins, window=WINDOW, risk_detections=detections)


def test_users_with_no_finding_and_users_with_no_sign_in_are_in_the_inventory() -> None:
    result = _review()
    assert {u.user_id: u.verdict for u in result.users} == {"id-erin": "none", "id-gus": "none"}
    entries = result.risk_inventory.entries
    assert [(e.kind, e.user_id, e.state) for e in entries] == [
        ("signIn", "id-erin", "dismissed"), ("detection", "id-erin", "dismissed"),
        ("detection", "id-hal", "atRisk")]
    assert entries[1].sign_in_id == "s1"  # the detection names the sign-in it concerns


def test_json_has_the_inventory_in_camel_case_and_decodes_back() -> None:
    result = _review()
    document = msgspec.json.decode(render_json(result))
    inventory = document["riskInventory"]
    assert inventory["hiddenLevelSignIns"] == 0
    first = inventory["entries"][0]
    assert {"kind", "time", "userId", "userPrincipalName", "riskTypes", "level", "state",
            "ipAddress", "location", "signInId", "errorCode"} <= set(first)
    assert first["location"]["countryOrRegion"] == "FR"
    assert msgspec.json.decode(render_json(result), type=ReviewResult) == result


def test_json_without_an_inventory_still_decodes() -> None:
    """Reports written before the inventory existed read back with an empty one."""
    old = msgspec.json.encode({"window": {"start": WINDOW.start, "end": WINDOW.end},
                               "tenant": {"signIns": 0, "users": 0}, "users": []})
    assert msgspec.json.decode(old, type=ReviewResult).risk_inventory == RiskInventory()


# --- CSV --------------------------------------------------------------------------------------


def test_risk_csv_has_one_row_per_entry_with_the_verdict_beside_it() -> None:
    rows = list(csv.DictReader(io.StringIO(render_risk_csv(_review()))))
    assert tuple(rows[0]) == RISK_COLUMNS
    assert [(r["source"], r["userPrincipalName"], r["verdict"], r["otherFindings"])
            for r in rows] == [("signIn", "erin@contoso.com", "none", "no"),
                               ("detection", "erin@contoso.com", "none", "no"),
                               ("detection", "hal@contoso.com", "not reviewed", "no")]
    first = rows[0]
    assert (first["time"], first["riskLevel"], first["riskState"], first["errorCode"]) == (
        "2025-03-08T10:00:00Z", "low", "dismissed", "0")
    assert (first["city"], first["country"], first["ipAddress"]) == ("Paris", "FR", "198.51.100.1")
    assert rows[2]["riskEventTypes"] == "leakedCredentials" and rows[2]["detectionTiming"] \
        == "offline"


def test_risk_csv_cells_cannot_become_formulas() -> None:
    hostile = row(1, level="high", types=["=HYPERLINK(\"http://x\")"])
    hostile = msgspec.structs.replace(hostile, user_principal_name="@SUM(1+1)@contoso.com")
    text = render_risk_csv(review([hostile], window=WINDOW))
    assert "'@SUM(1+1)@contoso.com" in text and "'=HYPERLINK" in text


# --- HTML -------------------------------------------------------------------------------------


def test_html_lists_the_inventory_with_links_to_flagged_users() -> None:
    result, timelines = sample_review()
    html = render_review(result, timelines)
    assert 'id="risk-inventory"' in html
    section = html.split('id="risk-inventory"', 1)[1].split("</section>", 1)[0]
    assert '<a href="#user-1">alice@contoso.com</a>' in section  # alice is flagged first
    assert "erin@contoso.com" in section and "no other finding" in section
    assert "not reviewed" in section  # a detection for someone with no sign-in in the window
    assert "hidden" in section  # a level Graph hid is shown as such


def test_html_says_when_there_is_nothing_and_why_data_is_missing() -> None:
    result = review([row(1)], window=WINDOW)
    result.sources.append(DataSource("riskDetections", False, "403 Forbidden: no P2 licence"))
    html = render_review(result, {})
    section = html.split('id="risk-inventory"', 1)[1].split("</section>", 1)[0]
    assert "No risky sign-in and no risk detection in this window." in section
    assert "riskDetections: 403 Forbidden: no P2 licence" in section


def test_html_escapes_what_identity_protection_passes_through() -> None:
    hostile = row(1, level="<b>high</b>", types=["<script>alert(1)</script>"])
    html = render_review(review([hostile], window=WINDOW), {})
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert 'class="risk-other"' in html  # an unknown level never becomes a CSS class


def test_long_inventories_are_cut_in_html_but_counted() -> None:
    rows = [row(n, f"u{n}", level="medium", minutes=n) for n in range(1, 8)]
    result = review(rows, window=WINDOW)
    table = risk_table(result, {}, limit=5)
    assert (len(table.rows), table.total, table.users, table.sign_ins) == (5, 7, 7, 7)
    html = render_review(result, {})
    assert "hold them all" not in html  # under the page's own limit, every entry is shown


def test_terminal_summary_counts_the_inventory() -> None:
    result, _ = sample_review()
    text = render_table(result)
    assert "risk inventory: 2 risky sign-ins, 2 risk detections, 3 users (2 with no other " \
           "finding)" in text
    assert "risk level hidden (no Entra ID P2) on 1 sign-in" in text
