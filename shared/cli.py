"""`signin-review`: the command line.

Each subcommand is a module in `shared/commands/` with `add_arguments(parser)` and
`run(args) -> int`, listed here explicitly and imported only when chosen.
Exit codes: 0 success, 1 the command ran and found a problem it reports, 2 bad usage or input,
3 (`analyze`) the review was written but input rows were rejected (see its loss summary).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("shared.commands.analyze", "review exported sign-in logs offline"),
    "doctor": ("shared.commands.doctor",
               "check storage, tokens, Graph permissions, licences and settings (after azd up)"),
    "learn": ("shared.commands.learn", "build every user's baseline from the retention period"),
    "review": ("shared.commands.review", "start a tenant review, or review one user now"),
    "verify-evidence": ("shared.commands.verify_evidence",
                        "check a run's manifest, evidence hashes, audit chain and remediations"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="signin-review", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = (list(argv) if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if chosen == [name]:
            importlib.import_module(module_name).add_arguments(command_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
