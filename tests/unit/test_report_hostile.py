"""Log text is attacker-controlled: planted markup must reach the report as text, never as HTML.

Each payload goes into every field of a sign-in, a verdict, the sources and the remediation record
that the report shows; the page is then parsed and no element or attribute may come from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from shared.model import (
    DataSource,
    DeviceDetail,
    Finding,
    GeoCoordinates,
    Location,
    ReviewResult,
    SignIn,
    SprayingSource,
    Status,
    TenantSummary,
    UserStats,
    UserVerdict,
    Window,
)
from shared.report import render_review
from tests.unit.test_report_sample import sample_review

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' or 1 eq 1",
    "{{7*7}}",
]
MARKERS = ("alert(", "onerror", "or 1 eq 1", "7*7", "<script", "<img")
START = datetime(2025, 3, 8, tzinfo=UTC)


SHOWN_FIELDS = (
    "upn", "name", "app", "ip", "client", "reason", "details", "device", "os", "browser",
    "city", "state", "country", "agent", "risk", "event", "uid",
    "verdict_reason", "summary", "type", "severity", "action", "stat_country",
    "source", "source_detail", "spray_ip", "remedy", "remedy_status", "approver", "remedy_key",
    "title",
)


def hostile_sign_in(p: str, n: int, at: datetime, lat: float, lon: float) -> SignIn:
    def f(field: str) -> str:
        return f"{p}#{field}"

    return SignIn(
        id=f"{p}-{n}", created_date_time=at, user_id=f("uid"), user_principal_name=f("upn"),
        user_display_name=f("name"), app_id=f("appid"), app_display_name=f("app"),
        ip_address=f("ip"), client_app_used=f("client"),
        status=Status(50126, f("reason"), f("details")),
        device_detail=DeviceDetail(device_id=f("devid"), display_name=f("device"),
                                   operating_system=f("os"), browser=f("browser")),
        location=Location(city=f("city"), state=f("state"), country_or_region=f("country"),
                          geo_coordinates=GeoCoordinates(lat, lon)),
        risk_level_during_sign_in=f("risk"), risk_state=f("riskstate"),
        risk_event_types_v2=[f("event")],
        autonomous_system_number=64500, user_agent=f("agent"),
    )


def hostile_review(p: str) -> tuple[ReviewResult, dict[str, list[SignIn]], dict[str, list[dict]]]:
    def f(field: str) -> str:
        return f"{p}#{field}"

    sign_ins = [hostile_sign_in(p, 1, START, 47.6, -122.3),
                hostile_sign_in(p, 2, START + timedelta(hours=1), 6.4, 3.4)]
    finding = Finding(f("type"), f("severity"), f("summary"),  # type: ignore[arg-type]
                      [s.id for s in sign_ins], got_in=True)
    verdict = UserVerdict(
        user_id=f("uid"), user_principal_name=f("upn"), verdict="high", privileged=True,
        findings=[finding], reasons=[f("verdict_reason")],
        stats=UserStats(2, 2, [f("stat_country")], 1, 1), got_in=True,
        proposed_actions=[f("action")],
    )
    quiet = UserVerdict(f("quiet"), f("quiet_upn"), "none", False, [], [f("quiet_reason")],
                        UserStats(1, 0, [f("quiet_country")], 1, 1))
    result = ReviewResult(
        window=Window(START, START + timedelta(days=1)),
        tenant=TenantSummary(2, 2, [SprayingSource(f("spray_ip"), 9, 9, 0, 64500)]),
        users=[verdict, quiet],
        sources=[DataSource(f("source"), False, f("source_detail")), DataSource(p, True, p)],
    )
    remediation = {f("uid"): [{"action": f("remedy"), "status": f("remedy_status"),
                               "approver": f("approver"), "completedAt": f("when"),
                               f("remedy_key"): p}]}
    return result, {f("uid"): sign_ins}, remediation


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        (self.style if self.lasttag == "style" else self.text).append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def benign_shape() -> tuple[set[str], set[str]]:
    result, timelines = sample_review()
    parsed = parse(render_review(result, timelines, remediations={}))
    return ({t for t, _ in parsed.elements},
            {name for _, attrs in parsed.elements for name in attrs})


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_in_every_field_stays_text(payload: str,
                                           benign_shape: tuple[set[str], set[str]]) -> None:
    result, timelines, remediations = hostile_review(payload)
    html = render_review(result, timelines, remediations=remediations, title=f"{payload}#title")
    parsed = parse(html)
    tags, attribute_names = benign_shape
    assert {t for t, _ in parsed.elements} <= tags
    assert "script" not in {t for t, _ in parsed.elements}
    for tag, attrs in parsed.elements:
        assert set(attrs) <= attribute_names, (tag, attrs)
        for value in attrs.values():
            assert not any(marker in (value or "") for marker in MARKERS), (tag, attrs)
    assert not any(marker in "".join(parsed.style) for marker in MARKERS)
    text = "".join(parsed.text)
    missing = [field for field in SHOWN_FIELDS if f"{payload}#{field}" not in text]
    assert not missing  # every field reached the page, and as text


def test_template_syntax_in_data_is_not_evaluated() -> None:
    result, timelines, remediations = hostile_review("{{7*7}}")
    html = render_review(result, timelines, remediations=remediations)
    assert "{{7*7}}" in html


def test_bidi_and_control_characters_are_neutralised() -> None:
    spoof = "admin\u202egpj.exe\x1b[2J\x00"
    result, timelines, _ = hostile_review(spoof)
    html = render_review(result, timelines)
    assert "\u202e" not in html and "\x1b" not in html and "\x00" not in html
    assert "admin\ufffdgpj.exe\ufffd[2J\ufffd" in html
