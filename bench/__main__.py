"""`make bench`: run every benchmark, merge their figures into bench/results.json, print it.

Each benchmark module exposes `run() -> dict[str, float | int | bool]`. A module that fails is
reported under "errors" and the others still run. `--full` (`make bench-full`) runs a module's
`run_full()` where it has one instead: the archive benchmark's whole Monday run over 45,000
users, which takes far longer than everything else together (`make bench` measures only its
fetch step). The wall time of each benchmark is recorded under "bench_s".
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
import traceback
from pathlib import Path

from bench.machine import cpu_model, cpus

RESULTS = Path(__file__).resolve().parent / "results.json"
BENCHMARKS = [
    "bench.graph_bench",
    "bench.score_bench",
    "bench.pipeline_bench",
    "bench.analyze_bench",
    "bench.archive_bench",
    "bench.privileged_bench",
]


def main(args: list[str]) -> int:
    full = "--full" in args
    names = [a for a in args if a != "--full"]
    chosen = [n for n in BENCHMARKS if not names or n.rsplit(".", 1)[-1] in names]
    results: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    errors: dict[str, str] = {}
    earlier = results.get("bench_s")
    took: dict[str, object] = dict(earlier) if isinstance(earlier, dict) else {}
    for name in chosen:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
            run = module.run_full if full and hasattr(module, "run_full") else module.run
            results.update(run())
        except Exception as exc:  # report and go on: one broken benchmark must not hide others
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
        took[name.rsplit(".", 1)[-1] + ("_full" if full else "")] = round(
            time.perf_counter() - started, 1)
        print(f"  {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    results["bench_s"] = took
    results["machine"] = {"python": platform.python_version(), "cpus": cpus(),
                          "cpu_model": cpu_model()}
    results["errors"] = errors
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))
    return 1 if errors else 0


if __name__ == "__main__":
    from local.azurite import exit_on_sigterm

    exit_on_sigterm()
    sys.exit(main(sys.argv[1:]))
