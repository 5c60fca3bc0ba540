"""`signin-review learn` and `signin-review review`: run the pipeline's work by hand.

    signin-review learn [--until ISO8601] [--days N]
    signin-review review --start ISO8601 --end ISO8601 [--scope tenant|privileged] [--ticket ID]
    signin-review review --user UPN_OR_ID [--start ... --end ... | --lookback-hours N]

Both take `--source graph|archive|log-analytics` (default: the SIGNIN_SOURCE setting).

`learn` builds every user's baseline from the retention period (first deployment). `review`
with a scope starts a tenant run (the function app's queues do the work, as on a Monday);
with `--user` it reviews one user now and prints the verdict as JSON. Settings come from the
environment, as in the function app (AzureWebJobsStorage, GRAPH_*). Exit codes: the table in
shared.commands.exits (2 bad usage, 4 settings, 5 storage or Graph unreachable, 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

import msgspec

from shared.commands import exits
from shared.config import SIGNIN_SOURCES
from shared.errors import SigninReviewError
from shared.model import Window


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SOURCE_HELP = "where to read sign-ins (default: the SIGNIN_SOURCE setting)"


def add_learn_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--until", type=_moment, help="end of the history (default: now)")
    parser.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    parser.add_argument("--source", choices=SIGNIN_SOURCES, help=SOURCE_HELP)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="review one user (UPN or object id) synchronously")
    parser.add_argument("--start", type=_moment)
    parser.add_argument("--end", type=_moment)
    parser.add_argument("--lookback-hours", type=int, default=72)
    parser.add_argument("--scope", choices=("tenant", "privileged"), default="tenant")
    parser.add_argument("--ticket", help="a ticket id kept with the run")
    parser.add_argument("--source", choices=SIGNIN_SOURCES, help=SOURCE_HELP)


def _fail(message: str, code: int) -> int:
    print(f"signin-review: {message}", file=sys.stderr)
    return code


def run_learn(args: argparse.Namespace) -> int:
    from shared.pipeline.learn import learn_report
    from shared.services import current

    if not 1 <= args.days <= 30:
        return _fail("--days must be between 1 and 30 (Graph keeps sign-ins 30 days)",
                     exits.USAGE)
    try:
        services = current()
        learned = learn_report(services, until=args.until or services.clock(),
                               days=args.days, source=args.source)
    except SigninReviewError as exc:
        return _fail(exc.message, exits.for_error(exc))
    read = f" from {learned.window.start:%Y-%m-%d %H:%M} UTC" if learned.window else ""
    print(f"learned {learned.users} baselines{read}")
    for note in learned.notes:  # the licence, and a history shorter than it keeps
        print(f"{note.name}: {note.detail}" if note.available else
              f"warning: {note.name}: {note.detail}")
    return 0


def run(args: argparse.Namespace) -> int:
    from shared.services import current

    try:
        services = current()
        now = services.clock()
        if args.start and args.end:
            window = Window(start=args.start, end=args.end)
        elif args.start or args.end:
            return _fail("give both --start and --end, or neither", exits.USAGE)
        else:
            window = Window(start=now - timedelta(hours=args.lookback_hours), end=now)
        if window.start >= window.end:
            return _fail("--start must be before --end", exits.USAGE)
        if args.user:
            from shared.pipeline.adhoc import review_user

            verdict = review_user(services, user=args.user, window=window, ticket_id=args.ticket,
                                  requested_by="cli", source=args.source)
            sys.stdout.write(msgspec.json.format(msgspec.json.encode(verdict), indent=2).decode()
                             + "\n")
            return 0
        from shared.pipeline.runs import start_run

        record = start_run(services, window=window, kind=args.scope, ticket_id=args.ticket,
                           requested_by="cli", source=args.source)
    except SigninReviewError as exc:
        return _fail(exc.message, exits.for_error(exc))
    print(f"started run {record.run_id} ({len(record.slice_ids)} slices queued)")
    return 0
