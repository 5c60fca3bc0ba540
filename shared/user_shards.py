"""Sign-ins spilled to temporary shard files by user, for inputs larger than memory.

A month of a mid-sized tenant's exports (millions of sign-ins, ~2.6 KB each once decoded) does
not fit in a laptop's memory. Rows are appended, as JSON lines, to one of `SHARDS` temporary
files chosen by their user; reading a shard back gives each of its users' sign-ins whole, in
time order, with repeats (same id, user and time) removed, so a review holds one shard at a
time. The files are deleted when the shards are closed.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import msgspec

from shared.analysis import group_by_user
from shared.imports.lines import Record, SignInLines
from shared.model import SignIn

SHARDS = 128
_FLUSH_BYTES = 256 * 1024  # per shard buffer: 128 shards hold at most ~32 MB before writing


class UserShards:
    """Append sign-ins; read them back user by user. Use as a context manager."""

    def __init__(self, shards: int = SHARDS) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="signin-review-shards-")
        root = Path(self._directory.name)
        self._paths = [root / f"{n:03d}.jsonl" for n in range(shards)]
        self._buffers = [bytearray() for _ in range(shards)]
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(SignIn)
        self.rows = 0
        self.repeated = 0  # found by the last full pass of `users()`
        # ids carried by sign-ins that disagree (other user, time or address; all kept), found
        # by the last full pass of `users()`
        self.conflicting_ids = 0
        self._id_paths = [root / f"ids-{n:03d}.txt" for n in range(shards)]

    def add_all(self, sign_ins: Iterable[SignIn]) -> None:
        """Spill the sign-ins: the JSON they were read from when they come with it
        (shared.imports.lines), else each encoded again."""
        if isinstance(sign_ins, SignInLines):
            self._add_lines(sign_ins, sign_ins.lines)
            return
        buffers, encode_into, count = self._buffers, self._encoder.encode_into, len(self._buffers)
        for sign_in in sign_ins:
            index = hash(sign_in.user_id or (sign_in.user_principal_name or "").lower()) % count
            buffer = buffers[index]
            encode_into(sign_in, buffer, -1)
            buffer.extend(b"\n")
            if len(buffer) > _FLUSH_BYTES:
                self._flush(index)
            self.rows += 1

    def _add_lines(self, sign_ins: list[SignIn], lines: list[Record]) -> None:
        """Each sign-in's JSON to its user's shard (chosen as `add_all` chooses it: the key is
        SignIn.user_key), one shard's records joined at a time."""
        count = len(self._buffers)
        by_shard: list[list[Record]] = [[] for _ in range(count)]
        for sign_in, line in zip(sign_ins, lines, strict=True):
            by_shard[hash(sign_in.user_id or (sign_in.user_principal_name or "").lower())
                     % count].append(line)
        for index, shard_lines in enumerate(by_shard):
            if shard_lines:
                buffer = self._buffers[index]
                buffer += b"\n".join(shard_lines)
                buffer += b"\n"
                if len(buffer) > _FLUSH_BYTES:
                    self._flush(index)
        self.rows += len(lines)

    def _flush(self, index: int) -> None:
        with self._paths[index].open("ab") as stream:
            stream.write(self._buffers[index])
        self._buffers[index].clear()

    def users(self) -> Iterator[tuple[str, list[SignIn]]]:
        """(user key, that user's sign-ins in time order, repeats removed), shard by shard."""
        for index in range(len(self._buffers)):
            if self._buffers[index]:
                self._flush(index)
        self.repeated = self.conflicting_ids = 0
        ids = _IdShards(self._id_paths)
        for path in self._paths:
            if not path.exists():
                continue
            rows = self._decoder.decode_lines(path.read_bytes())
            kept: list[str] = []  # the ids of the shard's kept sign-ins
            for user, timeline in group_by_user(rows).items():
                unique = _without_repeats(timeline)
                self.repeated += len(timeline) - len(unique)
                kept += [sign_in.id for sign_in in unique]
                yield user, unique
            del rows
            ids.add(kept)
        self.conflicting_ids = ids.conflicting()

    def close(self) -> None:
        self._directory.cleanup()

    def __enter__(self) -> UserShards:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


_IDS_PER_FLUSH = 2_000  # per id file: 128 files hold at most 256,000 ids before writing


class _IdShards:
    """The ids of every user's kept sign-ins, spread over files by id, to find the ids that
    sign-ins of different users (or one user's at other times or addresses) share."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._pending: list[list[str]] = [[] for _ in paths]
        for path in paths:
            path.unlink(missing_ok=True)  # a second pass of `users()` starts afresh

    def add(self, ids: list[str]) -> None:
        pending, count = self._pending, len(self._pending)
        if "\n".join(ids).count("\n") >= len(ids):
            # one id a line: an id holding a line break is written as JSON
            ids = [msgspec.json.encode(key).decode() if "\n" in key else key for key in ids]
        for key in ids:
            pending[hash(key) % count].append(key)
        for index, waiting in enumerate(pending):
            if len(waiting) >= _IDS_PER_FLUSH:
                self._flush(index)

    def _flush(self, index: int) -> None:
        with self._paths[index].open("a", encoding="utf-8", errors="surrogatepass",
                                     newline="") as stream:
            stream.write("\n".join(self._pending[index]) + "\n")
        self._pending[index].clear()

    def conflicting(self) -> int:
        """How many ids more than one kept sign-in carries."""
        found = 0
        for index, path in enumerate(self._paths):
            if self._pending[index]:
                self._flush(index)
            if path.exists():
                counts = Counter(path.read_bytes().split(b"\n"))
                found += sum(seen > 1 for line, seen in counts.items() if line)
                path.unlink()
        return found


def _without_repeats(timeline: list[SignIn]) -> list[SignIn]:
    """A time-ordered timeline without the rows repeating an earlier one (same id, time and
    address)."""
    if len({sign_in.id for sign_in in timeline}) == len(timeline):
        return timeline  # distinct ids: nothing repeats (the common case, checked cheaply)
    seen: set[tuple[str, object, str | None]] = set()
    unique: list[SignIn] = []
    for sign_in in timeline:
        key = (sign_in.id, sign_in.created_date_time, sign_in.ip_address)
        if key not in seen:
            seen.add(key)
            unique.append(sign_in)
    return unique
