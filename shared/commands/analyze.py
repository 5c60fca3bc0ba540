"""`signin-review analyze`: review exported sign-in logs offline, no Azure needed.

    signin-review analyze PATH [PATH ...] [--window-start ISO8601] [--window-end ISO8601]
        [--privileged FILE] [--risk-detections FILE]
        [--format auto|graph|sentinel|azure-monitor|portal]
        [--output json|table|html|csv|risk-csv] [--out FILE]

Sign-ins before --window-start are history: each user's baseline is built from them. The default
window is all input. Exit 0 on success, 2 on bad usage or unreadable input (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from shared.analysis import Timelines, review_with_timelines
from shared.errors import InputError
from shared.model import ReviewResult, RiskDetection, SignIn, Window

FORMATS = ("auto", "graph", "sentinel", "azure-monitor", "portal")
OUTPUTS = ("json", "table", "html", "csv", "risk-csv")
SHOWN_PROBLEMS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="exported sign-in log files")
    parser.add_argument("--window-start", metavar="ISO8601",
                        help="start of the review window; earlier sign-ins are history")
    parser.add_argument("--window-end", metavar="ISO8601", help="end of the review window")
    parser.add_argument("--privileged", metavar="FILE",
                        help="file of privileged UPNs or object ids, one a line")
    parser.add_argument("--risk-detections", metavar="FILE",
                        help="Identity Protection risk detections (Graph riskDetections JSON)")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="export format of every file (default: detect per file)")
    parser.add_argument("--date-order", choices=("month-first", "day-first"),
                        help="settles numeric dates such as 3/4/2025 that a file cannot settle")
    parser.add_argument("--output", choices=OUTPUTS, default="json",
                        help="default: json; csv: one row per user; risk-csv: the risk inventory, "
                        "one row per risky sign-in or risk detection")
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} is not an ISO 8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def read_privileged(path: str) -> set[str]:
    """UPNs or object ids, one a line; blank lines and # comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the privileged accounts file: {error}",
                         source=path) from None
    return {
        line.split("#", 1)[0].strip().lower()
        for line in text.splitlines()
        if line.split("#", 1)[0].strip()
    }


def window_of(args: argparse.Namespace, sign_ins: list[SignIn]) -> Window | None:
    if not args.window_start and not args.window_end:
        return None
    times = [s.created_date_time for s in sign_ins]
    start = parse_time(args.window_start, "--window-start") if args.window_start else min(times)
    end = parse_time(args.window_end, "--window-end") if args.window_end else max(times)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if start > end:
        raise InputError("--window-start must not be after --window-end")
    return Window(start=start, end=end)


def render(result: ReviewResult, timelines: Timelines, output: str) -> bytes:
    if output == "json":
        from shared.report.json_report import render_json

        return render_json(result, indent=2) + b"\n"
    if output == "table":
        return _table(result).encode()
    if output in ("csv", "risk-csv"):
        from shared.report.csv_report import render_csv, render_risk_csv

        return (render_csv(result) if output == "csv" else render_risk_csv(result)).encode()
    try:
        from shared.report.html import render_review
    except ImportError as error:
        raise InputError(f"HTML output is not available in this installation ({error})") from None
    return render_review(result, timelines).encode()


def _table(result: ReviewResult) -> str:
    try:
        from shared.report.terminal import render_table
    except ImportError:
        return _plain_table(result)
    return render_table(result, width=100)


def _plain_table(result: ReviewResult) -> str:
    lines = [f"{'verdict':8} {'user':44} {'sign-ins':>8} {'fail':>5}  findings"]
    for user in result.users:
        kinds = ", ".join(sorted({f.type for f in user.findings})) or "-"
        name = (user.user_principal_name or user.user_id)[:44]
        lines.append(f"{user.verdict:8} {name:44} {user.stats.sign_ins:>8} "
                     f"{user.stats.failures:>5}  {kinds}"[:100])
    for user in result.users:
        if user.verdict != "none":
            lines.append("")
            lines.append(f"{user.verdict.upper()}  {user.user_principal_name or user.user_id}")
            lines.extend(f"  - {reason}" for reason in user.reasons)
    return "\n".join(lines) + "\n"


def _risk_detections(path: str | None) -> list[RiskDetection]:
    if not path:
        return []
    from shared.imports.risk_detections import read_risk_detections

    detections, problems = read_risk_detections(path)
    _warn(problems)
    return detections


def _warn(problems: Sequence[object]) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(problems) > SHOWN_PROBLEMS:
        print(f"warning: {len(problems) - SHOWN_PROBLEMS} more problems not shown",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        from shared.imports import read_paths

        imported = read_paths(args.paths, format=args.format, date_order=args.date_order)
        _warn(imported.problems)
        if not imported.sign_ins:
            raise InputError("no user sign-ins found in the input")
        privileged = read_privileged(args.privileged) if args.privileged else set()
        window = window_of(args, imported.sign_ins)
        detections = _risk_detections(args.risk_detections)
        result, timelines = review_with_timelines(
            imported.sign_ins, window=window, privileged=privileged, risk_detections=detections
        )
        output = render(result, timelines, args.output)
    except InputError as error:
        print(f"signin-review analyze: {error.message}", file=sys.stderr)
        return 2
    if args.out:
        try:
            Path(args.out).write_bytes(output)
        except OSError as error:
            print(f"signin-review analyze: cannot write {args.out}: {error}", file=sys.stderr)
            return 2
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    return 0
