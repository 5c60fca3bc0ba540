"""`signin-review analyze`: review exported sign-in logs offline, no Azure needed.

    signin-review analyze PATH [PATH ...] [--window-start ISO8601] [--window-end ISO8601]
        [--privileged FILE [--privileged-review]] [--risk-detections FILE] [--trusted-networks FILE]
        [--audit-logs FILE ...]
        [--format auto|graph|sentinel|azure-monitor|portal|elastic]
        [--output json|table|html|csv|risk-csv] [--out FILE] [--quiet]

A PATH is a file, a folder (every export file in it) or a glob pattern; everything read is
merged and de-duplicated by sign-in. Sign-ins before --window-start are history: each user's
baseline is built from them. The default window is all input. --trusted-networks takes the
tenant's Conditional Access named locations as Graph lists them ({"value": [...]} or the list) or
CIDR ranges one a line: trusted ranges are familiar networks in every detection. Every output,
and stderr, says what was read and lost (rows read, sign-ins kept, fields set aside, rows
rejected by reason). --audit-logs takes the directory audit log (Graph directoryAudits JSON:
{"value": [...]}, arrays, JSON lines; Log Analytics AuditLogs: CSV or JSON; repeat it for more
files): what followed each suspicious sign-in (an authenticator registered, an app consented, a
password reset) becomes a `persistence` finding (docs/persistence.md).

--privileged-review makes the review a privileged-account review over the window (a quarter, say):
only the --privileged file's accounts are kept as the files are read, each week of the window is
judged against the weeks before it, and `privilegedReview.accounts[]` holds one entry per account
in the file, those that never signed in included (shared.privileged). The file may name each
account's roles and how they are held (shared.privileged.holdings).

Exit codes: 0 success; 2 bad usage or unreadable input (message on stderr); 3 the review was
written but some rows were rejected (EXIT_ROWS_REJECTED: a script must not take it as complete).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.analysis import TenantPass, Timelines, review_user_by_user, review_with_timelines
from shared.commands import exits
from shared.detect.context import DetectionSettings
from shared.detect.trusted import NamedLocationError, TrustedNetworks, from_named_locations
from shared.errors import InputError
from shared.model import (
    DataSource,
    InputSummary,
    ReviewResult,
    RiskDetection,
    RoleHolding,
    SignIn,
    Window,
)
from shared.persistence.records import AuditEvent
from shared.privileged.holdings import parse_holdings

if TYPE_CHECKING:
    from shared.commands.progress import AnalyzeProgress

FORMATS = ("auto", "graph", "sentinel", "azure-monitor", "portal", "elastic")
OUTPUTS = ("json", "table", "html", "csv", "risk-csv")
EXIT_ROWS_REJECTED = exits.ROWS_REJECTED
SPILL_ABOVE_MB = 256
OUT_EXTENSIONS = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json",
                  ".txt": "table"}
PART_MB = 32
SHOWN_PROBLEMS = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="exported sign-in log files, folders of them, or glob patterns")
    parser.add_argument("--window-start", metavar="ISO8601",
                        help="start of the review window; earlier sign-ins are history")
    parser.add_argument("--window-end", metavar="ISO8601", help="end of the review window")
    parser.add_argument("--privileged", metavar="FILE",
                        help="file of privileged UPNs or object ids, one a line "
                        "(optionally: , role, active|eligible|group[, group name])")
    parser.add_argument("--privileged-review", action="store_true",
                        help="review the --privileged accounts over the window (a quarter): "
                        "usage, exposures, dormant accounts, weekly anomalies")
    parser.add_argument("--risk-detections", metavar="FILE",
                        help="Identity Protection risk detections (Graph riskDetections JSON)")
    parser.add_argument("--trusted-networks", metavar="FILE",
                        help="named locations JSON (Graph's namedLocations) or CIDRs, one a line")
    parser.add_argument("--audit-logs", metavar="FILE", action="append",
                        help="directory audit rows (Graph directoryAudits JSON, Log Analytics "
                        "AuditLogs CSV or JSON); repeat for more files")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="export format of every file (default: detect per file)")
    parser.add_argument("--date-order", choices=("month-first", "day-first"),
                        help="settles numeric dates such as 3/4/2025 that a file cannot settle")
    parser.add_argument("--output", choices=OUTPUTS, default=None,
                        help="default: table on a terminal, else json (or what --out's extension "
                        "says: .html, .csv, .json); csv: one row per user; risk-csv: the risk "
                        "inventory, one row per risky sign-in or risk detection")
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    parser.add_argument("--quiet", action="store_true", help="no progress display on stderr")
    parser.add_argument("--spill-above", type=float, default=SPILL_ABOVE_MB, metavar="MB",
                        help="past this much input, keep sign-ins in temporary per-user shard "
                             f"files and review one user at a time (default {SPILL_ABOVE_MB})")
    parser.add_argument("--part-size", type=float, default=PART_MB, metavar="MB",
                        help="past --spill-above, read a larger JSON file in parts of this size "
                             f"(default {PART_MB})")


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} is not an ISO 8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_privileged(path: str) -> set[str]:
    """UPNs or object ids, one a line (anything after a comma is the role: see
    read_holdings); blank lines and # comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the privileged accounts file: {error}",
                         source=path) from None
    return set(parse_holdings(text, path))


def read_holdings(path: str) -> dict[str, list[RoleHolding]]:
    """The privileged accounts file with each account's roles (shared.privileged.holdings)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the privileged accounts file: {error}",
                         source=path) from None
    return parse_holdings(text, path)


def _trusted(args: argparse.Namespace) -> TrustedNetworks | None:
    return read_trusted_networks(args.trusted_networks) if args.trusted_networks else None


def read_trusted_networks(path: str) -> TrustedNetworks:
    """Graph namedLocation objects ({"value": [...]} or a list), or CIDR ranges one a line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the trusted networks file: {error}", source=path) from None
    try:
        if text.lstrip().startswith(("{", "[")):
            document = json.loads(text)
            locations = document.get("value") if isinstance(document, dict) else document
            if not isinstance(locations, list) or not all(isinstance(x, dict) for x in locations):
                raise InputError("the trusted networks file must hold namedLocation objects "
                                 "({\"value\": [...]} or a list)", source=path)
            return from_named_locations(locations)
        ranges = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        return from_named_locations([{
            "@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": Path(path).name,
            "isTrusted": True, "ipRanges": [{"cidrAddress": r} for r in ranges if r]}])
    except json.JSONDecodeError as error:
        raise InputError(f"the trusted networks file is not valid JSON: {error}",
                         source=path) from None
    except NamedLocationError as error:
        raise InputError(str(error), source=path) from None


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
        raise InputError(f"--window-start ({start:%Y-%m-%d %H:%M} UTC) is after the last sign-in "
                         f"read ({end:%Y-%m-%d %H:%M} UTC): no sign-in is in the window"
                         if not args.window_end else
                         f"--window-end ({end:%Y-%m-%d %H:%M} UTC) is before the first sign-in "
                         f"read ({start:%Y-%m-%d %H:%M} UTC): no sign-in is in the window"
                         if not args.window_start else
                         "--window-start must not be after --window-end")
    return Window(start=start, end=end)


def render(result: ReviewResult, timelines: Timelines, output: str) -> bytes:
    if output == "json":
        from shared.report.json_report import render_json

        return render_json(result, indent=2) + b"\n"
    if output == "table":
        return _table(result).encode()
    if output == "csv" and result.privileged_review is not None:
        from shared.report.csv_report import render_privileged_csv

        return render_privileged_csv(result).encode()
    if output in ("csv", "risk-csv"):
        from shared.report.csv_report import render_csv, render_risk_csv

        return (render_csv(result) if output == "csv" else render_risk_csv(result)).encode()
    try:
        from shared.report.html import render_review
    except ImportError as error:
        raise InputError(f"HTML output is not available in this installation ({error})") from None
    return render_review(result, timelines).encode()


def _table(result: ReviewResult, width: int | None = None) -> str:
    """The table at the terminal's width when it goes to one (100 columns otherwise)."""
    try:
        from shared.report.terminal import render_table
    except ImportError:
        return _plain_table(result)
    if width is None:
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    return render_table(result, width=max(60, width))


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


def _audit_events(args: argparse.Namespace) -> tuple[list[AuditEvent] | None, list[DataSource]]:
    """The audit rows of every --audit-logs file (None when none was given), and what was read
    and lost, as the report's sources."""
    if not args.audit_logs:
        return None, []
    from shared.imports.audit_logs import read_audit_logs

    events: dict[str, AuditEvent] = {}
    sources = []
    for path in args.audit_logs:
        found, read, problems = read_audit_logs(path, args.date_order)
        _warn(problems)
        print(f"analyze: {read.described()}", file=sys.stderr)
        events.update((event.id, event) for event in found)
        sources.append(DataSource("auditLogs", True, read.described()))
    return list(events.values()), sources


def _warn(problems: Sequence[object]) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"warning: {problem}", file=sys.stderr)
    if len(problems) > SHOWN_PROBLEMS:
        print(f"warning: {len(problems) - SHOWN_PROBLEMS} more problems not shown",
              file=sys.stderr)


def chosen_output(args: argparse.Namespace, *, terminal: bool | None = None) -> str:
    """--output, else what --out's extension names, else a table for a person at a terminal
    and JSON for a pipe or a file."""
    if args.output:
        return str(args.output)
    if args.out:
        return OUT_EXTENSIONS.get(Path(args.out).suffix.lower(), "json")
    if terminal is None:
        terminal = sys.stdout.isatty()
    return "table" if terminal else "json"


def check_arguments(args: argparse.Namespace) -> None:
    """What can be checked before any input is read: the window's times and order, and that
    --out can be written (a mistake here must not cost a whole read of the input)."""
    start = parse_time(args.window_start, "--window-start") if args.window_start else None
    end = parse_time(args.window_end, "--window-end") if args.window_end else None
    if start is not None and end is not None and start > end:
        raise InputError(f"--window-start ({args.window_start}) is after --window-end "
                         f"({args.window_end})")
    if args.out:
        out = Path(args.out)
        folder = out.parent if str(out.parent) else Path(".")
        if out.is_dir():
            raise InputError(f"cannot write {args.out}: it is a folder")
        if not folder.is_dir():
            raise InputError(f"cannot write {args.out}: no folder {folder}")
        if not os.access(out if out.exists() else folder, os.W_OK):
            raise InputError(f"cannot write {args.out}: permission denied")


def run(args: argparse.Namespace) -> int:
    from shared.commands.progress import AnalyzeProgress

    global _SUMMARY_IN_OUTPUT
    try:
        check_arguments(args)
        args.output = chosen_output(args)
    except InputError as error:
        print(f"signin-review analyze: {error.message}", file=sys.stderr)
        return exits.USAGE
    _SUMMARY_IN_OUTPUT = args.output == "table" and not args.out and sys.stdout.isatty() \
        and sys.stderr.isatty()
    try:
        with AnalyzeProgress.for_terminal(quiet=args.quiet) as progress:
            progress.input_size(*_input_size(args.paths))
            result, timelines = _review(args, progress)
            progress.writing(REPORT_NAMES.get(args.output, args.output))
            output = render(result, timelines, args.output)
    except InputError as error:
        print(f"signin-review analyze: {error.message}", file=sys.stderr)
        return exits.USAGE
    if args.out:
        try:
            Path(args.out).write_bytes(output)
        except OSError as error:
            print(f"signin-review analyze: cannot write {args.out}: {error}", file=sys.stderr)
            return exits.USAGE
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    return EXIT_ROWS_REJECTED if result.input and result.input.rejected else 0


def _review(args: argparse.Namespace, progress: AnalyzeProgress) -> tuple[ReviewResult, Timelines]:
    """Read and review in memory, or past --spill-above through per-user shard files."""
    from shared.imports import read_paths

    if args.privileged_review:
        return _review_privileged(args, progress)
    privileged = read_privileged(args.privileged) if args.privileged else set()
    if input_megabytes(args.paths) > args.spill_above:
        return _review_sharded(args, privileged, progress)
    imported = read_paths(args.paths, format=args.format, date_order=args.date_order)
    progress.rows_read(imported.summary.rows_read)
    progress.input_read()
    _say_what_was_read(imported.summary, usable=bool(imported.sign_ins))
    window = window_of(args, imported.sign_ins)
    audit, audit_sources = _audit_events(args)
    result, timelines = review_with_timelines(
        imported.sign_ins, window=window, privileged=privileged,
        risk_detections=_risk_detections(args.risk_detections), trusted=_trusted(args),
        audit_events=audit,
    )
    result.sources.extend(audit_sources)
    result.input = imported.summary
    return result, timelines


def _review_sharded(args: argparse.Namespace, privileged: set[str],
                    progress: AnalyzeProgress) -> tuple[ReviewResult, Timelines]:
    """Sign-ins go to temporary per-user shard files as each file is read (a large file in parts
    of --part-size, so that one file of any size fits as many small ones do), and the tenant-wide
    pass takes them on the way; users are then reviewed one at a time (see shared.user_shards),
    each shard decoded once. Only flagged users' timelines are kept, for the HTML report alone
    (the other outputs never show them). Should the shards find a
    sign-in read twice (overlapping exports), the tenant-wide pass is made again from them."""
    from shared.imports import read_each
    from shared.user_shards import UserShards

    window = window_of(args, []) if args.window_start and args.window_end else None
    if window is None and (args.window_start or args.window_end):
        raise InputError("past --spill-above, give both --window-start and --window-end "
                         "(or neither)")
    trusted, settings = _trusted(args) or TrustedNetworks(), DetectionSettings()
    tenant = TenantPass(window, settings, trusted)
    summary = InputSummary()
    with UserShards() as shards:
        shown: dict[Path, int] = {}  # rows of each file counted in the progress so far
        for path, _, sign_ins, log in read_each(args.paths, summary, format=args.format,
                                                date_order=args.date_order,
                                                part_bytes=max(1, int(args.part_size * 1e6))):
            shards.add_all(sign_ins)
            tenant.add_all(sign_ins)
            progress.rows_read(log.rows_read - shown.get(path, 0), path,
                               part_bytes=max(1, int(args.part_size * 1e6)))
            shown[path] = log.rows_read
            del sign_ins
        progress.input_read()
        if not shards.rows:
            _say_what_was_read(summary, usable=False)
        detections = _risk_detections(args.risk_detections)
        audit, audit_sources = _audit_events(args)
        result, timelines = review_user_by_user(
            shards.users, window=window, privileged=privileged, settings=settings,
            risk_detections=detections, trusted=trusted, on_user=progress.users_reviewed,
            tenant=tenant, audit_events=audit, keep_timelines=args.output == "html",
        )
        if shards.repeated:  # the pass above counted those sign-ins twice: review again
            result, timelines = review_user_by_user(
                shards.users, window=window, privileged=privileged, settings=settings,
                risk_detections=detections, trusted=trusted, on_user=progress.users_reviewed,
                audit_events=audit, keep_timelines=args.output == "html",
            )
        result.sources.extend(audit_sources)
        summary.repeated += shards.repeated
        summary.conflicting_ids += shards.conflicting_ids
        summary.sign_ins_kept = shards.rows - shards.repeated
    _say_what_was_read(summary, usable=True)
    result.input = summary
    return result, timelines


def _review_privileged(args: argparse.Namespace, progress: AnalyzeProgress
                       ) -> tuple[ReviewResult, Timelines]:
    """The privileged-account review: only the listed accounts' sign-ins are kept, file by file
    as they are read, so a quarter of a large tenant's exports needs the memory of its admins'."""
    from shared.imports import read_each
    from shared.privileged.result import privileged_result

    if not args.privileged:
        raise InputError("--privileged-review needs --privileged FILE (the accounts to review)")
    holdings = read_holdings(args.privileged)
    if not holdings:
        raise InputError(f"{args.privileged} names no account")
    keys = set(holdings)
    summary = InputSummary()
    kept: dict[str, SignIn] = {}
    others = 0
    for path, _, sign_ins, log in read_each(args.paths, summary, format=args.format,
                                            date_order=args.date_order):
        progress.rows_read(log.rows_read, path)
        for sign_in in sign_ins:
            if (sign_in.user_id or "").lower() in keys or \
                    (sign_in.user_principal_name or "").lower() in keys:
                if sign_in.id in kept:
                    summary.repeated += 1
                else:
                    kept[sign_in.id] = sign_in
            else:
                others += 1
        del sign_ins
    summary.sign_ins_kept = len(kept)
    _say_what_was_read(summary, usable=True)
    rows = list(kept.values())
    del kept
    if not rows and not (args.window_start and args.window_end):
        raise InputError("none of the privileged accounts signed in: give --window-start "
                         "and --window-end so the review can say so for the period")
    window = window_of(args, rows) or Window(start=min(s.created_date_time for s in rows),
                                             end=max(s.created_date_time for s in rows))
    result, timelines = privileged_result(
        rows, window, holdings, others=others, source=args.privileged, trusted=_trusted(args))
    result.input = summary
    return result, timelines


# Set when the table goes to the same terminal as stderr: it carries the loss summary, which is
# then not printed twice.
_SUMMARY_IN_OUTPUT = False


def _say_what_was_read(summary: InputSummary, *, usable: bool) -> None:
    """The loss summary on stderr (unless the table on the same terminal shows it); refuses the
    run when nothing usable remains."""
    from shared.report.loss import loss_lines, nothing_usable

    if not _SUMMARY_IN_OUTPUT or not usable:
        for line in loss_lines(summary):
            print(f"analyze: {line}", file=sys.stderr)
    if not usable:
        raise InputError(nothing_usable(summary))


REPORT_NAMES = {"html": "the HTML report", "json": "the JSON review", "table": "the table",
                "csv": "the CSV", "risk-csv": "the risk CSV"}


def _input_size(paths: list[str]) -> tuple[int, int]:
    """How many files the paths name and their bytes (folders and patterns expanded)."""
    from shared.imports.paths import expand_paths

    files = total = 0
    for path in expand_paths(paths):
        try:
            total += path.stat().st_size
        except OSError:
            continue
        files += 1
    return files, total


def input_megabytes(paths: list[str]) -> float:
    """How much input the paths name (folders and patterns expanded; missing files count 0)."""
    from shared.imports.paths import expand_paths

    total = 0
    for path in expand_paths(paths):
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total / 1e6
