"""`signin-review`: the command line.

Each subcommand is a module in `shared/commands/` with `add_arguments(parser)` and
`run(args) -> int`, listed here explicitly and imported only when chosen.
Exit codes: one table for every command, in `shared.commands.exits` (and docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shared import __version__
from shared.commands import exits

COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("shared.commands.analyze", "review exported sign-in logs offline"),
    "doctor": ("shared.commands.doctor",
               "check storage, tokens, Graph permissions, licences and settings (after azd up)"),
    "learn": ("shared.commands.learn", "build every user's baseline from the retention period"),
    "review": ("shared.commands.review", "start a tenant review, or review one user now"),
    "verify-evidence": ("shared.commands.verify_evidence",
                        "check a run's manifest, evidence hashes, audit chain and remediations"),
}

# Top-level modules of the `tenant` extra (pyproject.toml): `analyze` needs none of them.
TENANT_PACKAGES = frozenset({"azure", "msgraph", "msgraph_core", "kiota_abstractions",
                             "kiota_http", "kiota_authentication_azure", "jwt"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="signin-review", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = (list(argv) if argv is not None else sys.argv[1:])[:1]
    try:
        for name, (module_name, help_text) in COMMANDS.items():
            command_parser = sub.add_parser(name, help=help_text, description=help_text)
            if chosen == [name]:
                importlib.import_module(module_name).add_arguments(command_parser)
        args = parser.parse_args(argv)
        module = importlib.import_module(COMMANDS[args.command][0])
        return int(module.run(args))
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in TENANT_PACKAGES:
            raise
        print(f"signin-review {chosen[0]}: needs the tenant packages ({error.name} is not "
              "installed): pip install 'signin-review[tenant]' (from a clone: "
              "pip install '.[tenant]')", file=sys.stderr)
        return exits.SETTINGS


if __name__ == "__main__":
    sys.exit(main())
