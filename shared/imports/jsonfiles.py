"""JSON exports: one document (`{"value": [...]}`, `{"records": [...]}`, an array, or a single
record) or JSON lines. Graph documents take msgspec's one-call fast path; everything else, and
Graph documents with a bad record, go record by record so each bad one is reported and skipped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from shared.errors import InputError
from shared.imports import azure_monitor, elastic, graph, sentinel
from shared.imports.detect import format_of_record
from shared.imports.problems import ProblemLog
from shared.imports.records import ROW_ERRORS, RowError
from shared.imports.sources import Source
from shared.model import SignIn

Converter = Callable[[bytes, str], SignIn]
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])
_RECORDS = msgspec.json.Decoder(list[msgspec.Raw])
_WRAPPERS = ("value", "records", "Records")  # Graph responses, Azure Monitor storage blobs
_SNIFF_RECORDS = 5


def read_json(source: Source, wanted: str, log: ProblemLog, *,
              keep_lines: bool = False) -> tuple[str, list[SignIn]]:
    """(format, sign-ins) of a JSON or JSON-lines export; `wanted` is a format or "auto". With
    `keep_lines`, Graph JSON lines come with their lines where they can (shared.imports.lines)."""
    if source.layout == "json-lines":
        return _read_lines(source, wanted, log, keep_lines)
    with source.json_bytes() as data:
        if wanted in ("auto", "graph", "portal"):
            fast = _graph_fast_path(source, data)
            if fast is not None:
                return ("graph" if wanted == "auto" else wanted), fast
        blob = bytes(data)
    try:
        records = _records_in(blob)
    except _NotOneDocument:
        return _read_lines(source, wanted, log, keep_lines)
    except msgspec.DecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", source=source.name) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to be a sign-in export", source=source.name) \
            from None
    fmt = _format_of(source, wanted, (_object_or_none(raw) for raw in records[:_SNIFF_RECORDS]))
    convert = _converter(fmt, log.set_aside)
    finder = _LineFinder(blob)
    sign_ins: list[SignIn] = []
    for index, raw in enumerate(records):
        try:
            sign_ins.append(convert(bytes(raw), f"{source.path.name}#{index + 1}"))
        except ROW_ERRORS as exc:
            log.reject(finder.line_of(records, index), exc, f"record {index + 1}: {exc}")
    return fmt, sign_ins


class _NotOneDocument(Exception):
    """The text holds several JSON values: it is JSON lines after all."""


def _graph_fast_path(source: Source, data: bytes | memoryview) -> list[SignIn] | None:
    try:
        return graph.decode_document(data)
    except msgspec.DecodeError as exc:
        if "trailing characters" in str(exc):
            return None
        raise InputError(f"not valid JSON ({exc})", source=source.name) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to be a sign-in export", source=source.name) \
            from None


def _records_in(blob: bytes) -> list[msgspec.Raw]:
    try:
        top = _TOP.decode(blob)
    except msgspec.DecodeError as exc:
        if "trailing characters" in str(exc):
            raise _NotOneDocument from None
        raise
    if isinstance(top, list):
        return top
    hits = elastic.search_hits(top)
    if hits is not None:
        return hits
    for key in _WRAPPERS:
        if key in top:
            try:
                return _RECORDS.decode(top[key])
            except msgspec.ValidationError:
                break
    return [msgspec.Raw(blob)]  # a single record, like the schema examples in the docs


def _read_lines(source: Source, wanted: str, log: ProblemLog,
                keep_lines: bool = False) -> tuple[str, list[SignIn]]:
    lines = source.json_lines()
    sniffed: list[tuple[int, bytes]] = []
    for numbered in lines:
        sniffed.append(numbered)
        if len(sniffed) == _SNIFF_RECORDS:
            break
    fmt = _format_of(source, wanted, (_object_or_none(line) for _, line in sniffed))
    if fmt in ("graph", "portal"):
        with source.json_bytes() as data:
            fast = graph.decode_lines(data, keep_lines=keep_lines)
        if fast is not None:
            return fmt, fast
    convert = _converter(fmt, log.set_aside)
    sign_ins: list[SignIn] = []
    prefix = f"{source.path.name}:"
    for number, line in _chain(sniffed, lines):
        try:
            sign_ins.append(convert(line, prefix + str(number)))
        except ROW_ERRORS as exc:
            log.reject(number, exc)
    return fmt, sign_ins


def _chain(first: list[tuple[int, bytes]],
           rest: Iterable[tuple[int, bytes]]) -> Iterable[tuple[int, bytes]]:
    yield from first
    yield from rest


def _format_of(source: Source, wanted: str, records: Iterable[dict[str, Any] | None]) -> str:
    """The format of the first recognisable record; refuses files whose records are not
    sign-ins, or not the format the caller asked for."""
    found = next((fmt for r in records if r is not None and (fmt := format_of_record(r))), None)
    if found is None:
        raise InputError("not a sign-in export: its JSON records are neither Graph signIn "
                         "objects, Log Analytics SigninLogs rows, Azure Monitor sign-in records "
                         "nor Elastic documents of them", source=source.name)
    if wanted == "portal" and found == "graph":
        return "portal"  # the portal's JSON download is Graph's signIn objects
    if wanted not in ("auto", found):
        raise InputError(f"looks like a {found} export, not {wanted}", source=source.name)
    return found


def _object_or_none(raw: bytes | msgspec.Raw) -> dict[str, Any] | None:
    try:
        decoded = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _converter(fmt: str, aside: Counter[str]) -> Converter:
    if fmt in ("graph", "portal"):
        return lambda raw, fallback_id: graph.sign_in_from_json(raw, fallback_id, aside)
    if fmt == "sentinel":
        return lambda raw, fallback_id: sentinel.sign_in_from_row(
            _object(raw), fallback_id, sentinel.DEFAULT_DATE_ORDER, aside
        )
    if fmt == "elastic":
        return lambda raw, fallback_id: elastic.sign_in_from_document(
            _object(raw), fallback_id, aside
        )
    return lambda raw, fallback_id: azure_monitor.sign_in_from_record(
        _object(raw), fallback_id, aside
    )


def _object(raw: bytes) -> dict[str, Any]:
    decoded = msgspec.json.decode(raw)
    if not isinstance(decoded, dict):
        raise RowError(f"expected a JSON object, got {type(decoded).__name__}",
                       reason="not a JSON object")
    return decoded


class _LineFinder:
    """Line numbers of records in a JSON document, found only when a record needs reporting."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.cursor = 0
        self.line = 1
        self.located = -1
        self.located_line: int | None = None

    def line_of(self, records: list[msgspec.Raw], index: int) -> int | None:
        while self.located < index:
            raw = bytes(records[self.located + 1])
            position = self.blob.find(raw, self.cursor)
            if position < 0:
                return None
            self.located_line = self.line + self.blob.count(b"\n", self.cursor, position)
            self.line = self.located_line + raw.count(b"\n")
            self.cursor = position + len(raw)
            self.located += 1
        return self.located_line
