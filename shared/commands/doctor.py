"""`signin-review doctor`: is this deployment (or laptop configuration) ready to review?

    signin-review doctor [--timeout SECONDS] [--create-resources]

One line per check: ok / missing / wrong (and note, for what cannot be checked from here),
with how to fix it, naming the setting or URL concerned; never a traceback. Each check has a
time limit (--timeout, default 20 s); on a terminal the check under way is shown on stderr.
Run it first after `azd up`, or on a laptop after `az login` with GRAPH_CREDENTIAL=default.
`--create-resources` first creates the app's containers, tables and queues (Azurite, a laptop;
in Azure `azd up` creates them). Settings come from the environment, as in the function app.
Exit 0 when everything required is there, 1 when a check failed, 4 when the settings
themselves cannot be read (shared.commands.exits).
"""

from __future__ import annotations

import argparse
import sys

from shared.commands import exits
from shared.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                        help="time limit of each check (default 20)")
    parser.add_argument("--create-resources", action="store_true",
                        help="create the app's containers, tables and queues first (Azurite)")


class _Progress:
    """The check under way, on one line of a terminal's stderr; nothing when piped."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()

    def __call__(self, name: str, seconds: float) -> None:
        if self.shown:
            sys.stderr.write(f"\r\033[Kchecking {name} (up to {seconds:g} s)...")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from shared.preflight import quiet_libraries, run_checks, storage_failure
    from shared.services import current

    if not 0 < args.timeout <= 600:
        print("signin-review doctor: --timeout must be between 0 and 600 seconds",
              file=sys.stderr)
        return exits.USAGE
    quiet_libraries()
    try:
        services = current()
    except ConfigError as exc:
        print(f"wrong    settings: {exc.message}")
        print(f"{'':<8}   fix: correct that setting (docs/deploy.md lists them)")
        return exits.SETTINGS
    if args.create_resources:
        try:
            services.store.ensure_resources()
        except Exception as exc:  # said as the storage check's line below
            refused = storage_failure(services, exc)
            print(f"{refused.status:<8} {refused.name}: could not create the resources: "
                  f"{refused.detail}\n{'':<8}   fix: {refused.fix}")
            return exits.PROBLEM
    progress = _Progress()
    try:
        checks = run_checks(services, seconds=args.timeout, progress=progress)
    finally:
        progress.clear()
    for check in checks:
        print(f"{check.status:<8} {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            print(f"{'':<8}   fix: {check.fix}")
    failed = [c.name for c in checks if c.failed]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed"
          + (f"; to fix: {', '.join(failed)}" if failed else ": ready"))
    return exits.PROBLEM if failed else exits.OK
