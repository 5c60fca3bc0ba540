"""One table of exit codes for every `signin-review` command.

The same kind of failure ends every command with the same code, so a script can tell "fix the
settings" from "storage is down" from "the evidence does not match" without reading the text.
docs/cli.md holds the same table; tests/unit/test_exits.py holds both to it.
"""

from __future__ import annotations

from shared.errors import (
    ConfigError,
    GraphError,
    InputError,
    NotFoundError,
    ServiceUnavailable,
    SigninReviewError,
    SourceUnavailable,
    StorageError,
)

OK = 0
# The command ran and found a problem it reports: a doctor check failed, evidence does not
# match, a review was refused.
PROBLEM = 1
# Bad usage or unreadable input: a wrong flag or value, a file that is not an export, an
# unknown run id, an output file that cannot be written. Nothing was done.
USAGE = 2
# `analyze` wrote its review but set input rows aside (its loss summary says which and why).
ROWS_REJECTED = 3
# A setting is missing or malformed (AzureWebJobsStorage, GRAPH_*, ...), or the tenant
# commands' packages are not installed (`pip install '.[tenant]'`).
SETTINGS = 4
# Storage, Microsoft Graph or a sign-in source could not be reached or refused us.
UNREACHABLE = 5
# Interrupted (Ctrl+C), as shells report SIGINT.
INTERRUPTED = 130

TABLE: dict[int, str] = {
    OK: "success",
    PROBLEM: "the command ran and found a problem it reports (a doctor check failed, evidence "
             "does not match, the review failed)",
    USAGE: "bad usage or unreadable input; nothing was done",
    ROWS_REJECTED: "analyze: the review was written but input rows were set aside",
    SETTINGS: "a setting is missing or malformed, or the tenant packages are not installed",
    UNREACHABLE: "storage, Microsoft Graph or a sign-in source could not be reached or "
                 "refused the credential",
    INTERRUPTED: "interrupted",
}


def for_error(error: SigninReviewError) -> int:
    """The exit code of a command that stopped on this error."""
    if isinstance(error, ConfigError):
        return SETTINGS
    if isinstance(error, InputError | NotFoundError):
        return USAGE
    if isinstance(error, StorageError | GraphError | SourceUnavailable | ServiceUnavailable):
        return UNREACHABLE
    return PROBLEM
