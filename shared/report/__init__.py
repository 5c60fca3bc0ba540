"""Reports of a review: HTML (for people), CSV and JSON (for tools), terminal table (for a shell).

    render_review(result, timelines, *, remediations=None, title=None) -> str   HTML page
    render_csv(result) -> str                                                   one row per user
    render_risk_csv(result) -> str                                              risk inventory
    render_json(result, *, indent=0) -> bytes                                   `analyze` JSON
    render_table(result, *, width=100) -> str                                   terminal summary
"""

from shared.report.csv_report import render_csv, render_risk_csv
from shared.report.html import render_review
from shared.report.json_report import render_json
from shared.report.terminal import render_table

__all__ = ["render_csv", "render_json", "render_review", "render_risk_csv", "render_table"]
