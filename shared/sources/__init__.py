"""Where sign-ins are read from: Microsoft Graph, the diagnostic-settings archive in a storage
account, or a Log Analytics workspace (design notes, "Sign-in sources").

Every source has one shape, `SignInSource`: a stream of raw pages for a window (optionally one
user's sign-ins), each page with the exact bytes that go to write-once evidence, the sign-ins
decoded from them, where they came from, and the cursor a retried fetch resumes from. A source
also re-reads a page from its evidence bytes, so a slice that resumes, or a page an earlier
attempt already stored, decodes the same way. The pipeline's fetch, learn and ad-hoc steps open a
source by name (`open_source`) and never ask which one it is.

A source that could not read part of the window says so with a `Gap` (an archive hour with no
blob, an hour too recent to be complete, rows it could not decode): the run and the report name
every gap; a gap is never read as a quiet hour.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import msgspec

from shared.errors import ConfigError
from shared.imports.records import RowError
from shared.model import DataSource, SignIn, Window

if TYPE_CHECKING:
    from shared.services import Services

GapKind = Literal["missing", "incomplete", "unreadable"]


class Gap(msgspec.Struct, frozen=True, rename="camel"):
    """Part of a window a source could not read fully: what, and why, in words."""

    kind: GapKind
    what: str  # e.g. "SignInLogs 2026-11-21 03:00 UTC"
    detail: str


@dataclass(frozen=True, slots=True)
class SourcePage:
    """One page as the source gave it (`body`, for evidence; None when there was nothing to
    store) and as we read it (`sign_ins`), with the position after it (`cursor`; None once the
    stream is done) and anything it could not read (`gaps`)."""

    body: bytes | None
    sign_ins: list[SignIn]
    cursor: str | None
    origin: str = ""  # where the bytes came from: a request URL, a blob name and ETag, a query
    gaps: tuple[Gap, ...] = ()
    sha256: str | None = None  # the body's SHA-256 when the source hashed it while reading


@dataclass(frozen=True, slots=True)
class Decoded:
    """A page's sign-ins, and how many of its records were set aside (with the first reason)."""

    sign_ins: list[SignIn]
    unreadable: int = 0
    first_problem: str | None = None


T = TypeVar("T")


def decode_each(records: Iterable[T], read: Callable[[T, int], SignIn], window: Window,
                user: str | None, what: str) -> Decoded:
    """Each record read into a sign-in (kept when in the window and of the user); records that
    cannot be read are counted and set aside with the first reason, never dropped silently."""
    rows: list[SignIn] = []
    unreadable = 0
    problem: str | None = None
    for n, record in enumerate(records):
        try:
            sign_in = read(record, n)
        except (msgspec.DecodeError, msgspec.ValidationError, RowError, ValueError) as exc:
            unreadable += 1
            problem = problem or f"{what} {n + 1}: {exc}"
            continue
        if in_window(sign_in, window) and of_user(sign_in, user):
            rows.append(sign_in)
    return Decoded(rows, unreadable, problem)


class SignInSource(Protocol):
    """What the pipeline needs of a sign-in source."""

    name: str

    def describe(self) -> DataSource:
        """How the run's report names this source (the DataSource "signIns")."""
        ...

    def pages(self, window: Window, *, user: str | None = None,
              resume_from: str | None = None) -> AsyncGenerator[SourcePage, None]:
        """The window's pages (Graph's filter: `start <= createdDateTime <= end`), from the
        start or from a cursor an earlier page gave."""
        ...

    def stored(self, body: bytes, fetched: SourcePage, window: Window) -> SourcePage:
        """`fetched` as evidence already holds it under its name (an earlier attempt stored it
        first: what was stored first is the evidence)."""
        ...

    def rows(self, body: bytes, window: Window) -> list[SignIn]:
        """The sign-ins of the window in a page re-read from evidence."""
        ...


# name -> module with `connect(services) -> SignInSource`; imported only when chosen.
SOURCES: dict[str, str] = {
    "graph": "shared.sources.graph",
    "archive": "shared.sources.archive",
    "log-analytics": "shared.sources.log_analytics",
}


def open_source(services: Services, name: str | None = None) -> SignInSource:
    """The named source (default: the SIGNIN_SOURCE setting), configured from the settings."""
    chosen = name or services.settings.signin_source
    module_name = SOURCES.get(chosen)
    if module_name is None:
        raise ConfigError(f"unknown sign-in source {chosen!r} (one of {', '.join(SOURCES)})")
    source: SignInSource = importlib.import_module(module_name).connect(services)
    return source


def in_window(sign_in: SignIn, window: Window) -> bool:
    """Graph's window filter (`createdDateTime ge start and le end`), for sources that read
    whole hours or time ranges and must keep exactly what Graph would return."""
    return window.start <= sign_in.created_date_time <= window.end


def of_user(sign_in: SignIn, user: str | None) -> bool:
    """Graph's one-user filter: the object id, or the UPN in any case."""
    if user is None:
        return True
    return sign_in.user_id == user or (sign_in.user_principal_name or "").lower() == user.lower()


def gap_sources(slice_id: str, gaps: list[Gap]) -> list[DataSource]:
    """A slice's gaps as report entries, one per kind, naming every hour or range."""
    entries = []
    for kind, status in (("missing", "not read"), ("incomplete", "read, may be incomplete"),
                         ("unreadable", "rows set aside")):
        found = [g for g in gaps if g.kind == kind]
        if found:
            detail = f"{status}: " + "; ".join(f"{g.what} ({g.detail})" for g in found)
            entries.append(DataSource(f"signIns {kind} ({slice_id})", kind == "incomplete",
                                      detail))
    return entries


__all__ = [
    "SOURCES",
    "Decoded",
    "Gap",
    "SignInSource",
    "SourcePage",
    "decode_each",
    "gap_sources",
    "in_window",
    "of_user",
    "open_source",
]
