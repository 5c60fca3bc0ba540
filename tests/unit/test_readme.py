"""The README is the front page: its sections in the order a newcomer needs them, links that
resolve, and no measurement history (that lives in docs/performance.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

ORDER = ["Two commands", "Analysing exports on a laptop",
         "Running against a real tenant from a laptop", "Deploying", "Configuration", "The API",
         "Performance"]


def test_sections_in_a_newcomer_s_order() -> None:
    headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
    assert [h for h in headings if h in ORDER] == ORDER
    assert README.index("docs/img/report.png") < README.index("## Two commands")


def test_no_measurement_history() -> None:
    lowered = README.lower()
    for said in ("load average", "quiet runs", "before compact", "was 2,", " at load "):
        assert said not in lowered, said


def test_local_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
