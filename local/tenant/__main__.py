"""python -m local.tenant --users 50 --seed 7 --out DIR: write a sample tenant as Graph JSON."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from local.tenant import generate, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.tenant", description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sign-ins-per-user", type=int, default=60)
    parser.add_argument("--history-days", type=int, default=21)
    parser.add_argument("--window-end", type=datetime.fromisoformat, default=None,
                        help="ISO 8601; the window is the weekend ending at or before it")
    parser.add_argument("--format", choices=("auto", "json", "jsonl"), default="auto",
                        help="signIns.json, signIns.jsonl, or by size (jsonl from 200,000)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        tenant = generate(args.users, args.seed, args.window_end, args.history_days,
                          args.sign_ins_per_user)
    except ValueError as error:
        parser.error(str(error))
    built = time.perf_counter()
    paths = write(tenant, args.out, sign_ins_format=args.format)
    done = time.perf_counter()
    print(f"{len(tenant.users)} users, {len(tenant.sign_ins)} sign-ins, window "
          f"{tenant.window.start:%Y-%m-%d %H:%M} to {tenant.window.end:%Y-%m-%d %H:%M} UTC; "
          f"generated in {built - began:.1f} s, written in {done - built:.1f} s:")
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
