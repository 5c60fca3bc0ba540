"""`signin-review doctor`: is this deployment (or laptop configuration) ready to review?

    signin-review doctor

One line per check: ok / missing / wrong (and note, for what cannot be checked from here),
with how to fix it. Run it first after `azd up`. Settings come from the environment, as in the
function app. Exit 0 when everything required is there, 1 when a check failed, 4 when the
settings themselves cannot be read (shared.commands.exits).
"""

from __future__ import annotations

import argparse
import sys

from shared.commands import exits
from shared.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: it checks what the environment configures


def run(args: argparse.Namespace) -> int:
    from shared.preflight import run_checks
    from shared.services import current

    try:
        services = current()
    except ConfigError as exc:
        print(f"wrong    settings: {exc.message}", file=sys.stderr)
        return exits.SETTINGS
    checks = run_checks(services)
    for check in checks:
        print(f"{check.status:<8} {check.name}: {check.detail}")
        if check.fix and check.status != "ok":
            print(f"{'':<8}   fix: {check.fix}")
    failed = [c.name for c in checks if c.failed]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed"
          + (f"; to fix: {', '.join(failed)}" if failed else ": ready"))
    return exits.PROBLEM if failed else exits.OK
