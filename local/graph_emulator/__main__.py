"""`python -m local.graph_emulator [--port 0] [--tenant DIR]`: serve until interrupted.

Prints the base URL on the first line. DIR holds the sample tenant's Graph JSON files
(signIns.json, users.json, riskyUsers.json, riskDetections.json, roleAssignments.json, each
{"value": [...]}; large sign-in sets may come as signIns.jsonl, one sign-in a line); missing
files count as empty. The bearer token is printed on the second line.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec

from local.graph_emulator.emulator import DATA_FILES, GraphEmulator


def read_tenant_dir(folder: Path) -> dict[str, Any]:
    """The data sets found in a tenant folder, keyed by file stem."""
    if not folder.is_dir():
        raise SystemExit(f"--tenant {folder}: not a directory")
    data: dict[str, Any] = {}
    for stem in DATA_FILES.values():
        path = folder / f"{stem}.json"
        if path.exists():
            data[stem] = msgspec.json.decode(path.read_bytes())
        elif (lines := folder / f"{stem}.jsonl").exists():
            data[stem] = msgspec.json.Decoder().decode_lines(lines.read_bytes())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.graph_emulator",
                                     description="Local Microsoft Graph emulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    parser.add_argument("--tenant", type=Path, help="folder of the sample tenant's JSON files")
    parser.add_argument("--token", default="local-dev-token", help="bearer token to accept")
    args = parser.parse_args(argv)
    emulator = GraphEmulator(token=args.token)
    if args.tenant is not None:
        emulator.load_files(read_tenant_dir(args.tenant))
    print(emulator.start(args.port), flush=True)
    print(f"token: {emulator.token}", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
