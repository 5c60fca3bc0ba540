"""CSV exports, streamed row by row with the csv module: header, format, date order, rows."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from shared.errors import InputError
from shared.imports import portal, sentinel
from shared.imports.dates import (
    AmbiguousDateOrder,
    DateOrder,
    MixedDateOrder,
    decide_date_order,
)
from shared.imports.detect import canonical_column, format_of_columns
from shared.imports.problems import ProblemLog
from shared.imports.records import ROW_ERRORS
from shared.imports.sources import Source
from shared.model import SignIn

# Log Analytics cells hold whole JSON documents (authentication details, CA policies).
CELL_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), CELL_LIMIT))


def read_csv(source: Source, wanted: str, date_order: DateOrder | None,
             log: ProblemLog) -> tuple[str, list[SignIn]]:
    """(format, sign-ins) of a CSV export; `wanted` is a format or "auto"."""
    header = _header(source)
    fmt = format_of_columns(header)
    if fmt is None or wanted not in ("auto", fmt):
        raise InputError(_not_an_export(header, wanted, fmt), source=source.name)
    time_columns = sentinel.TIME_COLUMNS if fmt == "sentinel" else portal.TIME_COLUMNS
    order = _date_order(source, fmt, time_columns, date_order)
    sign_ins: list[SignIn] = []
    for line, row in rows(source, log, lower=fmt == "portal"):
        fallback_id = f"{source.path.name}:{line}"
        try:
            if fmt == "sentinel":
                sign_ins.append(sentinel.sign_in_from_row(row, fallback_id, order,
                                                          log.set_aside))
            else:
                sign_ins.append(portal.sign_in_from_row(row, fallback_id, order, source.name,
                                                        log.set_aside))
        except ROW_ERRORS as exc:
            log.reject(line, exc)
    return fmt, sign_ins


def _header(source: Source) -> list[str]:
    with source.text() as stream:
        try:
            first = next(csv.reader(stream), [])
        except csv.Error as exc:
            raise InputError(f"not a readable CSV file ({exc})", source=source.name) from None
    return [canonical_column(name) for name in first]


def rows(
    source: Source, log: ProblemLog, *, lower: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(first line of the row, {canonical column: cell}); `X_dynamic`/`X_string` twins merge to
    whichever is filled. Rows the csv module cannot parse become problems."""
    with source.text() as stream:
        reader = csv.reader(stream)
        header = [canonical_column(name) for name in next(reader, [])]
        if lower:
            header = [name.lower() for name in header]
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                log.add(line, f"unreadable CSV row ({exc})", "unreadable CSV row")
                line = reader.line_num + 1
                continue
            if cells and any(cells):
                if len(cells) != len(header):
                    log.add(line, f"row has {len(cells)} cells, the header {len(header)}",
                            "row and header differ in length")
                elif (moved := _shifted_cell(header, cells)) is not None:
                    column, cell = moved
                    log.add(line, f"cells do not match the header: {column} holds "
                            f"{cell[:40]!r} (cells shifted by a stray quote?)",
                            "cells shifted (a stray quote)")
                else:
                    yield line, _merge(header, cells)
            line = reader.line_num + 1


def _shifted_cell(header: list[str], cells: list[str]) -> tuple[str, str] | None:
    """(column, cell) of a cell holding CSV quoting itself, the mark of a row whose cells were
    shifted by a stray quote: a well-quoted cell reads `""` back as `"`, so `""` survives only
    where the quoting broke (or inside a JSON document, whose empty strings are `""`)."""
    for name, cell in zip(header, cells, strict=True):
        if '""' in cell and not cell.lstrip().startswith(("{", "[")):
            return name, cell
    return None


def _merge(header: list[str], cells: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=True):
        if cell or name not in row:
            row[name] = cell
    return row


def _date_order(source: Source, fmt: str, time_columns: tuple[str, ...],
                given: DateOrder | None) -> DateOrder | None:
    """The day/month order of the file's dates, decided from all of them (see dates.py)."""
    values = (_first_time(row, time_columns) for _, row in rows(source, ProblemLog(source.name),
                                                                 lower=fmt == "portal"))
    default = given or (sentinel.DEFAULT_DATE_ORDER if fmt == "sentinel" else None)
    try:
        order = decide_date_order(values, default)
    except AmbiguousDateOrder as exc:
        raise InputError(f"dates like 3/4/2025 are ambiguous: {exc} (day-first or month-first)",
                         source=source.name) from None
    except MixedDateOrder as exc:
        raise InputError(f"inconsistent dates: {exc}", source=source.name) from None
    if given and order != given:
        raise InputError(f"dates are {order}, not {given} as stated", source=source.name)
    return order


def _first_time(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    for column in columns:
        if row.get(column):
            return str(row[column])
    return ""


def _not_an_export(header: list[str], wanted: str, found: str | None) -> str:
    shown = ", ".join(name for name in header[:8] if name) or "none"
    if found is not None:
        return f"looks like a {found} export, not {wanted}"
    if wanted not in ("auto", "sentinel", "portal"):
        return f"is CSV; {wanted} exports are JSON"
    return (f"not a sign-in export: its columns ({shown}) are neither Log Analytics SigninLogs "
            "(ResultType, UserPrincipalName, TimeGenerated) nor the Entra portal download "
            "(Date (UTC), Request ID, Username)")
