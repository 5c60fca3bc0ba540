"""Identity Protection risk detections from a file, for `analyze --risk-detections FILE`.

Takes what GET /identityProtection/riskDetections answers (`{"value": [...]}`, one page or the
pages' records in one array) or JSON lines of riskDetection objects, with or without a UTF-8 BOM
(PowerShell writes one). A record that does not decode (no `id`, a bad time) is reported with its
number and skipped; a file that cannot be read, is not JSON, or holds no records is an InputError.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from shared.errors import InputError
from shared.imports.problems import ImportProblem, ProblemLog
from shared.model import RiskDetection

_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])
_RECORDS = msgspec.json.Decoder(list[msgspec.Raw])
_ONE = msgspec.json.Decoder(RiskDetection)


def _records(data: bytes, source: str) -> list[msgspec.Raw]:
    try:
        top = _TOP.decode(data)
    except msgspec.DecodeError:  # JSON lines: one detection a line
        return [msgspec.Raw(line) for line in data.splitlines() if line.strip()]
    if isinstance(top, list):
        return top
    if "value" in top:
        return _RECORDS.decode(top["value"])
    return [msgspec.Raw(data)]  # a single riskDetection object


def read_risk_detections(path: str | Path) -> tuple[list[RiskDetection], list[ImportProblem]]:
    """The detections of a file and the records skipped (as problems naming file and record)."""
    source = str(path)
    try:
        data = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise InputError(f"cannot read the risk detections file: {exc}", source=source) from None
    try:
        records = _records(data, source)
    except (msgspec.DecodeError, RecursionError):
        raise InputError("not a riskDetections export", source=source) from None
    if not records:
        raise InputError("no risk detections in the file", source=source)
    log = ProblemLog(source)
    found = []
    for number, raw in enumerate(records, start=1):
        try:
            found.append(_ONE.decode(bytes(raw)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.add(None, f"risk detection {number} skipped: {exc}")
    if not found:
        raise InputError(f"no risk detection could be read ({len(records)} records, the first: "
                         f"{log.problems[0].message})", source=source)
    return found, log.finish()
