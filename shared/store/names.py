"""Names of the storage resources, and checks on the ids that end up in blob names and keys.

The Functions host binds the queue names literally, so the names here are the real ones. Tests
and parallel local runs pass a `prefix` to get a private copy of every resource.
"""

from __future__ import annotations

import re

import msgspec

from shared.errors import InputError

EVIDENCE_CONTAINER = "evidence"  # write-once (WORM in Azure): raw pages, bundles, manifests
WORK_CONTAINER = "work"  # scratch: slice shards grouped by user, overwritten on retry

RUNS_TABLE = "runs"
VERDICTS_TABLE = "verdicts"
BASELINES_TABLE = "baselines"
REMEDIATIONS_TABLE = "remediations"
GRAPH_BUDGET_TABLE = "graphbudget"

SIGNIN_SLICES_QUEUE = "signin-slices"
RUN_READY_QUEUE = "run-ready"
USER_SCORING_QUEUE = "user-scoring"
REVIEW_USER_QUEUE = "review-user"  # one-user reviews asked for over HTTP
POISON_SUFFIX = "-poison"

CONTAINERS = (EVIDENCE_CONTAINER, WORK_CONTAINER)
TABLES = (RUNS_TABLE, VERDICTS_TABLE, BASELINES_TABLE, REMEDIATIONS_TABLE)
QUEUES = (SIGNIN_SLICES_QUEUE, RUN_READY_QUEUE, USER_SCORING_QUEUE, REVIEW_USER_QUEUE)

# A prefix must keep every name valid for all three services: table names allow only letters
# and digits, container and queue names only lower case. So: lower-case letters and digits.
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,19}")
# Run, slice and approval ids: safe in a blob path and a URL without escaping.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Characters a user id (object id or UPN) may keep in a blob name; the rest is %-escaped.
_USER_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")


def poison(queue: str) -> str:
    """The queue the host moves a message to after its last failed delivery."""
    return queue + POISON_SUFFIX


class ResourceNames(msgspec.Struct, frozen=True):
    """Every container, table and queue name, with an optional prefix for isolation."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX.fullmatch(self.prefix):
            raise InputError(
                f"storage name prefix must be lower-case letters and digits, starting with a "
                f"letter, at most 20 long; got {self.prefix!r}"
            )

    def _named(self, name: str) -> str:
        return (self.prefix + name) if self.prefix else name

    @property
    def evidence(self) -> str:
        return self._named(EVIDENCE_CONTAINER)

    @property
    def work(self) -> str:
        return self._named(WORK_CONTAINER)

    @property
    def runs(self) -> str:
        return self._named(RUNS_TABLE)

    @property
    def verdicts(self) -> str:
        return self._named(VERDICTS_TABLE)

    @property
    def baselines(self) -> str:
        return self._named(BASELINES_TABLE)

    @property
    def remediations(self) -> str:
        return self._named(REMEDIATIONS_TABLE)

    @property
    def graph_budget(self) -> str:
        """Graph's request budget shared by every instance (created on first use; holds
        timestamps only, so it stays out of `tables()`)."""
        return self._named(GRAPH_BUDGET_TABLE)

    @property
    def signin_slices(self) -> str:
        return self._named(SIGNIN_SLICES_QUEUE)

    @property
    def run_ready(self) -> str:
        return self._named(RUN_READY_QUEUE)

    @property
    def user_scoring(self) -> str:
        return self._named(USER_SCORING_QUEUE)

    @property
    def review_user(self) -> str:
        return self._named(REVIEW_USER_QUEUE)

    def containers(self) -> list[str]:
        return [self._named(name) for name in CONTAINERS]

    def tables(self) -> list[str]:
        return [self._named(name) for name in TABLES]

    def queues(self) -> list[str]:
        """The work queues and their poison twins."""
        work = [self._named(name) for name in QUEUES]
        return work + [poison(name) for name in work]


def checked_id(kind: str, value: str) -> str:
    """A run, slice or approval id, refused unless it is safe as one blob path segment."""
    if not _ID.fullmatch(value) or ".." in value:
        raise InputError(
            f"{kind} {value!r} is not a valid id (letters, digits, '.', '_', '-'; at most 128; "
            f"no '..')"
        )
    return value


def user_segment(user_id: str) -> str:
    """A user id (object id, or a UPN such as o'brien@contoso.com or a guest's #EXT# name) as one
    blob path segment: characters outside letters, digits and `._@-` become %XX (UTF-8)."""
    if not 1 <= len(user_id) <= 256 or user_id.strip(".") == "":
        raise InputError(f"user id {user_id[:40]!r} is empty, only dots, or over 256 characters")
    return "".join(
        ch if ch in _USER_SAFE else "".join(f"%{b:02X}" for b in ch.encode()) for ch in user_id
    )
