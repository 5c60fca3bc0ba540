"""One export file of any size, read in parts of about `part_bytes` so that memory does not grow
with the file: JSON lines (every format) and Graph documents (`{"value": [...]}` or an array of
signIn objects, as Graph and the portal write them). Each part decodes exactly as the whole file
would (the same fast path, the same record-by-record fallback with line numbers for a bad
record), so the sign-ins, rejections and fields set aside are those of reading it whole.

JSON lines split at line ends. A document splits between two records of its top-level array: a
candidate boundary is a `}` then `,` then `{` (whitespace allowed); one that falls inside a string
or a nested object leaves a part that is not valid JSON on its own (an unterminated string or
unbalanced brackets), so the part is extended to the next candidate until it decodes. The last
part is decoded with the document's opening (everything before the first record), which checks
the tail (`]` and any later keys such as "@odata.nextLink") as reading whole would.

Files that cannot be split this way (CSV, UTF-16, JSON documents of other formats) are read
whole by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedReader
from typing import IO

import msgspec

from shared.bulk import paused_gc
from shared.errors import InputError
from shared.imports import graph
from shared.imports.jsonfiles import _converter, _format_of, _LineFinder, _object_or_none
from shared.imports.problems import ProblemLog
from shared.imports.records import ROW_ERRORS
from shared.imports.sources import Source
from shared.model import SignIn

PART_BYTES = 32 * 2**20
_SNIFF = 5
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")
_RECORDS = msgspec.json.Decoder(list[msgspec.Raw])
_OPENING = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])


def splittable(source: Source, wanted: str) -> bool:
    """Whether `read_parts` can read this file in parts."""
    if source.encoding.startswith("utf-16") or source.layout == "csv":
        return False
    return source.layout == "json-lines" or wanted in ("auto", "graph", "portal")


def read_parts(source: Source, wanted: str, log: ProblemLog, part_bytes: int = PART_BYTES, *,
               keep_lines: bool = False) -> Iterator[tuple[str, list[SignIn]]]:
    """(format, sign-ins) part after part; problems and counts go to `log` as they are met.
    Raises InputError as reading whole would (not an export, not valid JSON), and
    `NotSplittable` before yielding anything when a document is not a Graph one. With
    `keep_lines`, Graph JSON lines come with their lines where they can (shared.imports.lines)."""
    if source.layout == "json-lines":
        yield from _lines(source, wanted, log, part_bytes, keep_lines)
    else:
        yield from _document(source, wanted, log, part_bytes)


class NotSplittable(Exception):
    """A JSON document this module does not split (read it whole)."""


def _blocks(stream: IO[bytes], part_bytes: int, skip_bom: bool) -> Iterator[bytes]:
    """The file in blocks of about part_bytes, each ending at a line end (the last at EOF)."""
    carry = b""
    first = True
    while True:
        block = stream.read(part_bytes)
        if first and skip_bom and block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        first = False
        if not block:
            if carry:
                yield carry
            return
        data = carry + block
        end = data.rfind(b"\n") + 1
        if end == 0:
            carry = data
            continue
        carry = data[end:]
        yield data[:end]


def _lines(source: Source, wanted: str, log: ProblemLog, part_bytes: int,
           keep_lines: bool) -> Iterator[tuple[str, list[SignIn]]]:
    sniffed = []
    for _, line in source.json_lines():
        sniffed.append(_object_or_none(line))
        if len(sniffed) == _SNIFF:
            break
    fmt = _format_of(source, wanted, sniffed)
    convert = _converter(fmt, log.set_aside)
    prefix = f"{source.path.name}:"
    line_before = 0  # lines in the blocks before this one
    with source.path.open("rb") as stream:
        for block in _blocks(stream, part_bytes, source.encoding == "utf-8-sig"):
            with paused_gc():
                fast = graph.decode_lines(block, keep_lines=keep_lines) \
                    if fmt in ("graph", "portal") else None
                if fast is None:
                    fast = []
                    for number, line in enumerate(block.splitlines(), line_before + 1):
                        if not line.strip():
                            continue
                        try:
                            fast.append(convert(line, prefix + str(number)))
                        except ROW_ERRORS as exc:
                            log.reject(number, exc)
            line_before += block.count(b"\n")
            yield fmt, fast


def _document(source: Source, wanted: str, log: ProblemLog,
              part_bytes: int) -> Iterator[tuple[str, list[SignIn]]]:
    give_up = max(4 * part_bytes, 64 * 2**20)  # no record boundary decodes within this: broken
    with source.path.open("rb") as stream:
        head = stream.read(max(part_bytes, 1 << 16))
        if source.encoding == "utf-8-sig":
            head = head[3:]
        opening_end = _first_record(head)
        if opening_end is None:
            raise NotSplittable
        opening = head[:opening_end]
        window = _Window(stream, opening, head[opening_end:], part_bytes)
        del head
        lines_before = opening.count(b"\n")  # in the file before the window's bytes
        records_before = 0
        fmt: str | None = None
        search_from = 0
        while True:
            if not window.eof and window.size < part_bytes + search_from:
                window.read()
                continue
            found = window.boundary(max(search_from, part_bytes // 2))
            if found is None and not window.eof:
                if window.size > give_up:
                    raise InputError("not valid JSON: no record ends within "
                                     f"{give_up // 2**20} MiB", source=source.name)
                window.read()
                continue
            if found is None:  # the rest of the file, decoded with the opening
                with window.rest_with_opening() as whole:
                    if fmt is None:
                        fmt = _sniff(source, wanted, whole, whole=True)
                    sign_ins = _last(source, whole, opening, fmt, log, lines_before,
                                     records_before)
                yield fmt, sign_ins
                return
            cut, next_start = found  # the `{` opening the next record is at next_start
            with window.part(cut) as part:
                try:
                    raws = _RECORDS.decode(part)
                except msgspec.DecodeError:  # a boundary inside a string or a nested object
                    search_from = cut
                    continue
                records = len(raws)
                if fmt is None:
                    fmt = _sniff(source, wanted, part, whole=False)
                sign_ins = _decoded(source, part, raws, fmt, log, lines_before, records_before)
                del raws
            yield fmt, sign_ins
            del sign_ins
            records_before += records
            lines_before += window.consume(next_start)
            search_from = 0


class _Window:
    """The bytes of a document not decoded yet, in one bytearray reused from part to part (the
    file is read into it, and each part decoded from a view of it): copying every part into new
    bytes objects of tens of MB would fragment the C heap, and the peak would grow with the
    file. Room before the bytes takes the `[` that makes a part an array, or the document's
    opening before its last records. Positions are relative to the window's first byte."""

    def __init__(self, stream: BufferedReader, opening: bytes, first: bytes,
                 part_bytes: int) -> None:
        self.stream, self.part_bytes, self.eof = stream, part_bytes, False
        self.room = max(1, len(opening))  # before the bytes, for `[` or the opening
        self.opening = opening
        self.data = bytearray(self.room + len(first) + part_bytes)  # grows if a part needs it
        self.start, self.end = self.room, self.room + len(first)
        self.data[self.start:self.end] = first

    @property
    def size(self) -> int:
        return self.end - self.start

    def read(self) -> None:
        """Up to part_bytes more of the file (moving the bytes back to the front, or making
        the window larger, when there is no room after them)."""
        if self.end + self.part_bytes > len(self.data):
            view = memoryview(self.data)
            view[self.room:self.room + self.size] = view[self.start:self.end]  # memmove
            view.release()
            self.start, self.end = self.room, self.room + self.size
        if self.end + self.part_bytes > len(self.data):
            self.data.extend(bytes(self.end + self.part_bytes - len(self.data)))
        with memoryview(self.data) as view:
            got = self.stream.readinto(view[self.end:self.end + self.part_bytes])
        self.eof = not got
        self.end += got or 0

    def boundary(self, search_from: int) -> tuple[int, int] | None:
        """The next candidate end of a record at or after `search_from`: (just after its `}`,
        where the `{` of the record after it is)."""
        found = _BOUNDARY.search(self.data, self.start + search_from, self.end)
        if found is None:
            return None
        return found.start() + 1 - self.start, found.end() - 1 - self.start

    @contextmanager
    def part(self, cut: int) -> Iterator[memoryview]:
        """The records before `cut` as a JSON array, a view valid inside the block only."""
        data, first, last = self.data, self.start - 1, self.start + cut
        kept_before, kept_after = data[first], data[last]
        data[first], data[last] = ord("["), ord("]")
        view = memoryview(data)[first:last + 1]
        try:
            yield view
        finally:
            view.release()
            data[first], data[last] = kept_before, kept_after

    @contextmanager
    def rest_with_opening(self) -> Iterator[memoryview]:
        """The document's opening then every byte not decoded yet, as one view."""
        first = self.start - len(self.opening)
        self.data[first:self.start] = self.opening
        view = memoryview(self.data)[first:self.end]
        try:
            yield view
        finally:
            view.release()

    def consume(self, count: int) -> int:
        """Drop the first `count` bytes; returns the line ends among them."""
        lines = self.data.count(b"\n", self.start, self.start + count)
        self.start += count
        return lines


def _first_record(head: bytes) -> int | None:
    """Where the first record of a Graph document's array starts in its opening bytes, or None
    when the document is not `{..."value": [{` nor `[{` (checked by decoding the opening)."""
    stripped = len(head) - len(head.lstrip())
    if head[stripped:stripped + 1] == b"[":
        start = head.find(b"{", stripped)
        return start if start >= 0 and not head[stripped + 1:start].strip() else None
    found = re.search(rb'"value"\s*:\s*\[\s*\{', head)
    if found is None:
        return None
    start = found.end() - 1
    try:
        top = _OPENING.decode(head[:start] + b"]}")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # "value" inside a string or deeper down: not the document's own array
    return start if isinstance(top, dict) and "value" in top else None


def _sniff(source: Source, wanted: str, data: bytes | memoryview, *, whole: bool) -> str:
    if whole:
        top = _OPENING.decode(data)
        raws = top if isinstance(top, list) else _RECORDS.decode(top.get("value", b"[]"))
    else:
        raws = _RECORDS.decode(data)
    fmt = _format_of(source, wanted, (_object_or_none(raw) for raw in raws[:_SNIFF]))
    if fmt not in ("graph", "portal"):
        raise NotSplittable
    return fmt


def _decoded(source: Source, part: bytes | memoryview, raws: list[msgspec.Raw], fmt: str,
             log: ProblemLog, lines_before: int, records_before: int) -> list[SignIn]:
    """A part's sign-ins: Graph's fast path, else record by record (bad ones reported)."""
    with paused_gc():
        fast = graph.decode_document(part)
        if fast is not None:
            return fast
        convert = _converter(fmt, log.set_aside)
        finder = _LineFinder(bytes(part))
        sign_ins: list[SignIn] = []
        for index, raw in enumerate(raws):
            try:
                fallback_id = f"{source.path.name}#{records_before + index + 1}"
                sign_ins.append(convert(bytes(raw), fallback_id))
            except ROW_ERRORS as exc:
                line = finder.line_of(raws, index)
                number = records_before + index + 1
                log.reject(None if line is None else line + lines_before, exc,
                           f"record {number}: {exc}")
        return sign_ins


def _last(source: Source, whole: memoryview, opening: bytes, fmt: str, log: ProblemLog,
          lines_before: int, records_before: int) -> list[SignIn]:
    """The final records, decoded with the document's opening (which checks the tail)."""
    try:
        top = _OPENING.decode(whole)
    except msgspec.DecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", source=source.name) from None
    raws = top if isinstance(top, list) else _RECORDS.decode(top["value"])
    del top
    return _decoded(source, whole, raws, fmt, log, lines_before - opening.count(b"\n"),
                    records_before)
