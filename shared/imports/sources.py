"""Opening an export file: existence, encoding (UTF-8 with or without BOM, UTF-16 as Windows
PowerShell writes it), text or binary, and its layout. Every failure is one InputError naming
the file."""

from __future__ import annotations

import codecs
import io
import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from shared.errors import InputError
from shared.imports.detect import Layout, binary_kind, layout_of

HEAD_BYTES = 64 * 1024


class Source:
    """One export file, opened far enough to know its encoding and layout."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        head = self._read_head()
        self.encoding = _encoding_of(head)
        if self.encoding == "utf-8-sig" or self.encoding == "utf-8":
            kind = binary_kind(head)
            if kind is not None:
                raise InputError(f"this is {kind}, not a sign-in export", source=self.name)
        text_head = head.decode(self.encoding, errors="replace")
        if not text_head.strip("\ufeff \t\r\n"):
            raise InputError("the file is empty: no sign-ins to read", source=self.name)
        self.layout: Layout = layout_of(text_head.lstrip("\ufeff"))

    def _read_head(self) -> bytes:
        try:
            with self.path.open("rb") as stream:
                head = stream.read(HEAD_BYTES)
        except FileNotFoundError:
            raise InputError("no such file", source=self.name) from None
        except IsADirectoryError:
            raise InputError("is a directory, not an export file", source=self.name) from None
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}", source=self.name) from None
        if not head:
            raise InputError("the file is empty: no sign-ins to read", source=self.name)
        return head

    @contextmanager
    def json_bytes(self) -> Iterator[bytes | memoryview]:
        """The whole file as UTF-8 JSON bytes, memory-mapped when it is UTF-8 already."""
        if self.encoding.startswith("utf-16"):
            yield self.path.read_text(self.encoding, errors="replace").encode()
            return
        with self.path.open("rb") as stream, mmap.mmap(
            stream.fileno(), 0, access=mmap.ACCESS_READ
        ) as mapped:
            whole = memoryview(mapped)
            body = whole[3:] if self.encoding == "utf-8-sig" else whole
            try:
                yield body
            finally:
                body.release()
                whole.release()

    def json_lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number, UTF-8 bytes) of each non-blank line."""
        if self.encoding.startswith("utf-16"):
            text = self.path.read_text(self.encoding, errors="replace")
            lines: Iterator[bytes] = (line.encode() for line in text.splitlines())
            yield from _numbered(lines)
            return
        with self.path.open("rb") as stream:
            yield from _numbered(stream)

    def text(self) -> IO[str]:
        """The file as text for the csv module (undecodable bytes become U+FFFD)."""
        stream = self.path.open("rb")
        return io.TextIOWrapper(stream, encoding=self.encoding, errors="replace", newline="")


def _numbered(lines: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
        if line.strip():
            yield number, line


def _encoding_of(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"
