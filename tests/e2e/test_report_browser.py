"""The HTML review opened in a real browser: Debian's chromium, headless, with networking off.

Checks that the page loads with no console messages (no script errors, no blocked fetches: the
page carries a Content-Security-Policy that would report any), that the flagged users and their
timelines are in the DOM after load, and saves a screenshot under test-artifacts/ for a person.
A control page with a broken script proves the console check sees errors at all. The travel maps'
country outlines are checked where a reader sees them: pixels of the land colour in a screenshot,
present with the outline data and absent without it.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shared.model import ReviewResult
from shared.report import html as html_report
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
            capture_output=True, text=True, timeout=300, check=False,
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


# --- the travel map's country outlines, as pixels ----------------------------------------------

LAND = (0xF3, 0xEE, 0xDF)  # the outlines' fill (templates/outlines.html.j2)


def png_pixels(data: bytes) -> list[tuple[int, int, int]]:
    """The RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", b""
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * step
    previous, pixels = bytearray(stride), []
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:
                                                            (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
                           (abs(guess - corner), 2, corner))[2]
                line[i] = (line[i] + near) & 255
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, step))
        previous = line
    return pixels  # type: ignore[return-value]


def one_user_page(path: Path, result: ReviewResult, timelines: dict) -> Path:
    alice = [u for u in result.users if u.user_id == "id-alice"]
    only = ReviewResult(window=result.window, tenant=result.tenant, users=alice)
    path.write_text(render_review(only, {"id-alice": timelines["id-alice"]}), encoding="utf-8")
    return path


def land_pixels(page: Path, shot: Path) -> int:
    _, console = chromium(page, f"--screenshot={shot}", "--window-size=1200,2200")
    assert console == []
    return sum(1 for pixel in png_pixels(shot.read_bytes()) if pixel == LAND)


def test_travel_map_draws_country_outlines(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    result, timelines = sample_review()
    page = one_user_page(ARTIFACTS / "report-map.html", result, timelines)
    drawn = land_pixels(page, ARTIFACTS / "report-map.png")
    # Alice's map spans Seattle to Lagos: North America, the Caribbean and West Africa are land.
    assert drawn > 20_000
    monkeypatch.setattr(html_report, "world_outlines", lambda: None)
    bare = one_user_page(tmp_path / "bare.html", result, timelines)
    assert "Country outlines are not installed here" in bare.read_text(encoding="utf-8")
    assert land_pixels(bare, tmp_path / "bare.png") == 0
