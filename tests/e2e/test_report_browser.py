"""The HTML review opened in a real browser: Debian's chromium, headless, with networking off.

Checks that the page loads with no console messages (no script errors, no blocked fetches: the
page carries a Content-Security-Policy that would report any), that the flagged users and their
timelines are in the DOM after load, and saves a screenshot under test-artifacts/ for a person.
A control page with a broken script proves the console check sees errors at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shared.report import render_review
from tests.unit.test_report_sample import sample_review

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")

# Headless and offline: no GPU, no QUIC, no background services, every host name unresolvable.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr", "--v=0",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                       reason="chromium is not installed (`make deps` installs it)"),
]


def chromium(page: Path, *action: str) -> tuple[str, list[str]]:
    """Run chromium on a local page; its stdout and the console messages it logged."""
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [m.group(1) for m in CONSOLE.finditer(done.stderr)]


class Loaded(HTMLParser):
    """What a reader sees after load: the user articles and the timeline rows inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.articles: list[str] = []
        self.rows: dict[str, int] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "article":
            self.articles.append(found.get("id") or "")
        classes = (found.get("class") or "").split()
        if tag == "tr" and self.articles and any(c.startswith("out-") for c in classes):
            self.rows[self.articles[-1]] = self.rows.get(self.articles[-1], 0) + 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def report_page() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    result, timelines = sample_review()
    page = ARTIFACTS / "report-browser.html"
    page.write_text(render_review(result, timelines, remediations={}), encoding="utf-8")
    return page


def test_console_check_sees_script_errors(tmp_path: Path) -> None:
    control = tmp_path / "broken.html"
    control.write_text("<!DOCTYPE html><p>x</p><script>notDefined()</script>", encoding="utf-8")
    _, console = chromium(control, "--dump-dom")
    assert any("ReferenceError" in line for line in console)


def test_report_loads_without_errors_and_shows_flagged_timelines(report_page: Path) -> None:
    dom, console = chromium(report_page, "--dump-dom")
    assert console == []
    loaded = Loaded()
    loaded.feed(dom)
    assert loaded.articles == ["user-1", "user-2", "user-3", "user-4"]
    assert loaded.rows == {"user-1": 14, "user-2": 16, "user-3": 4, "user-4": 3}
    text = " ".join(loaded.text)
    for upn in ("alice@contoso.com", "bob@contoso.com", "carol@contoso.com", "dave@contoso.com"):
        assert upn in text
    assert "Failure 500121" in text and "4,418 km/h" in text


def test_screenshot_is_saved(report_page: Path) -> None:
    shot = ARTIFACTS / "report-browser.png"
    shot.unlink(missing_ok=True)
    _, console = chromium(report_page, f"--screenshot={shot}", "--window-size=1400,3000")
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
