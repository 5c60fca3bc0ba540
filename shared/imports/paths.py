"""Which files an `analyze` run reads: files as given, every export file in a folder (the
Microsoft-Extractor-Suite writes one file per day and kind into a folder), or a glob pattern."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from shared.errors import InputError

EXPORT_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".csv", ".log", ".txt"})
_GLOB_CHARS = frozenset("*?[")


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files to read, in a stable order, each once. A folder gives its export files (by
    suffix, recursively); a pattern with * ? or [ gives its matches. Raises InputError when a
    folder or a pattern gives nothing."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        text = str(given)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*")
                           if f.is_file() and f.suffix.lower() in EXPORT_SUFFIXES)
            if not files:
                raise InputError("the directory holds no export files (.json, .jsonl, .csv, .log)",
                                 source=text)
            found.extend(files)
        elif not path.exists() and _GLOB_CHARS & set(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise InputError("no file matches this pattern", source=text)
            found.extend(files)
        else:
            found.append(path)
    return list(dict.fromkeys(found))
