"""What keeps a big tenant's report cheap must not change a byte of it.

The templates are loaded without their indentation (which `squeeze` drops from the page anyway),
`plain` skips its substitution for text with nothing unprintable, and the page is built with the
cyclic collector paused: each is checked against the plain way of doing the same.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jinja2
import msgspec
import pytest

from shared.model import DeviceDetail, PrivilegedReview, ReviewResult, SignIn, Window
from shared.report import html, render_review
from shared.report.text import _UNSAFE, plain, utc_text
from shared.report.timeline import SAME_DEVICE, TimelineGap, TimelineRow, timeline, timeline_row
from tests.unit.test_approval_mail import account
from tests.unit.test_report_hostile import PAYLOADS, hostile_review
from tests.unit.test_report_html import REMEDIATIONS
from tests.unit.test_report_sample import sample_review, sign_in

# Besides the markup payloads: text that starts with the whitespace `squeeze` takes after a line
# break, and text that `plain` must rewrite.
WHITESPACE = ["  leading spaces", "\t\ttabs", "\n   a line break and indentation", "x\u202ey\x00"]
QUARTER = Window(start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 3, 31, tzinfo=UTC))

Review = tuple[ReviewResult, dict[str, list[SignIn]], dict[str, list[dict[str, Any]]] | None]


def reviews() -> list[tuple[str, Review]]:
    result, timelines = sample_review()
    privileged = ReviewResult(window=QUARTER, tenant=result.tenant, users=result.users[:2],
                              privileged_review=PrivilegedReview(
                                  period=QUARTER, read=QUARTER, read_detail="  the quarter",
                                  accounts=[account("idle@contoso.com", dormant=True,
                                                    attention=["dormant"]),
                                            account("\n  ops@contoso.com")]))
    quiet = ReviewResult(window=result.window, tenant=result.tenant,
                         users=[u for u in result.users if u.verdict == "none"])
    flagged = result.users[0]
    rows = [sign_in("alice", result.window.start + timedelta(minutes=m), "seattle", "1.1.1.1",
                    device="PC" if m % 7 else "PHONE") for m in range(900)]
    cited = msgspec.structs.replace(flagged.findings[0], sign_in_ids=[rows[600].id])
    long = ReviewResult(window=result.window, tenant=result.tenant,
                        users=[msgspec.structs.replace(flagged, findings=[cited])])
    return [("sample", (result, timelines, REMEDIATIONS)),
            ("sample, no remediations", (result, timelines, None)),
            ("privileged", (privileged, timelines, None)),
            ("nobody flagged", (quiet, {}, None)),
            ("a timeline with gaps", (long, {flagged.user_id: rows}, None)),
            *((f"hostile {p!r}", hostile_review(p)) for p in PAYLOADS + WHITESPACE)]


@pytest.mark.parametrize(("name", "review"), reviews(), ids=[name for name, _ in reviews()])
def test_unindented_templates_render_the_same_page(name: str, review: Review,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result, timelines, remediations = review
    page = render_review(result, timelines, remediations=remediations, title=f"{name}  title")
    as_written = html._environment(jinja2.FileSystemLoader(html._TEMPLATES))
    monkeypatch.setattr(html, "_ENV", as_written)
    assert render_review(result, timelines, remediations=remediations,
                         title=f"{name}  title") == page


def test_a_long_timeline_names_the_sign_ins_it_leaves_out() -> None:
    [(_, (result, timelines, _))] = [r for r in reviews() if r[0] == "a timeline with gaps"]
    page = render_review(result, timelines)
    assert page.count('<tr class="gap">') == 2 and "297 sign-ins not cited by any" in page


def test_templates_lose_their_indentation_when_loaded() -> None:
    source, _, _ = html._ENV.loader.get_source(html._ENV, "user.html.j2")  # type: ignore[union-attr]
    written = (html._TEMPLATES / "user.html.j2").read_text()
    assert "\n  <header>" in written and "\n<header>" in source
    assert html.squeeze(source) == html.squeeze(written)


def test_plain_rewrites_exactly_what_the_pattern_matches() -> None:
    for code in range(0x10000):
        text = f"a{chr(code)}b"
        assert plain(text) == _UNSAFE.sub("\ufffd", text), hex(code)
    assert plain("x\u202ey\x00", limit=3) == "x\ufffd…"


@pytest.mark.parametrize("moment", [
    datetime(2025, 3, 10, 7, 22, 1, 999999, tzinfo=UTC), datetime(2025, 3, 10, 7, 22, 1),
    datetime(2025, 3, 10, 1, 5, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(5, 1, 2, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1000, 1, 1, tzinfo=UTC)])
def test_utc_text_is_what_strftime_writes(moment: datetime) -> None:
    at = moment.astimezone(UTC) if moment.tzinfo else moment
    assert utc_text(moment) == at.strftime("%Y-%m-%d %H:%M:%S")
    assert utc_text(moment, seconds=False) == at.strftime("%Y-%m-%d %H:%M")


def timeline_as_before(sign_ins: list[SignIn]) -> list[TimelineRow | TimelineGap]:
    """The rows built one by one, a repeated device then rewritten (the plain way)."""
    rows: list[TimelineRow | TimelineGap] = []
    shown = None
    for row_of in sorted(sign_ins, key=lambda s: s.created_date_time):
        row = timeline_row(row_of)
        if shown == (row.device, row.device_detail) and row.device_detail:
            row = msgspec.structs.replace(row, device_detail=SAME_DEVICE)
        else:
            shown = (row.device, row.device_detail)
        rows.append(row)
    return rows


def test_a_repeated_device_is_said_once_as_before() -> None:
    laptop = DeviceDetail(display_name="LAPTOP", operating_system="Windows", browser="Edge")
    phone = DeviceDetail(operating_system="iOS", browser="Safari")
    devices = [laptop, laptop, phone, phone, laptop, None, None,
               DeviceDetail(display_name=SAME_DEVICE), DeviceDetail(display_name=SAME_DEVICE)]
    agents = ["Edge/122", "Edge/122", None, None, "Edge/122", None, None, SAME_DEVICE, SAME_DEVICE]
    start = datetime(2025, 3, 8, tzinfo=UTC)
    sign_ins = [SignIn(id=f"s{n}", created_date_time=start + timedelta(minutes=n),
                       device_detail=device, user_agent=agent)
                for n, (device, agent) in enumerate(zip(devices, agents, strict=True))]
    rows = timeline(sign_ins, [])
    assert rows == timeline_as_before(sign_ins)
    assert [r.device_detail for r in rows if isinstance(r, TimelineRow)].count(SAME_DEVICE) == 3


@pytest.mark.parametrize("enabled", [True, False])
def test_rendering_leaves_the_collector_as_it_was(enabled: bool) -> None:
    result, timelines = sample_review()
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        render_review(result, timelines)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
