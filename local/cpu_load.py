"""Run a command while every core is kept busy: `make test-under-load` runs the suite this way.

A test that passes only on an idle machine is a test that fails in CI. This starts one CPU-bound
Python loop per core (at normal priority, so the command competes for every core), runs the
command `--runs` times in a row, reports each run's time and exit status, and always stops the
load: on success, failure, Ctrl-C or SIGTERM. Each loop also ends by itself when this process
is gone (it watches its parent), so even a killed runner leaves nothing spinning.

    python -m local.cpu_load [--workers N] [--runs K] -- COMMAND [ARGS...]

Exit status: 0 when every run passed, else the first failing run's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from local.azurite import exit_on_sigterm

# Busy until its parent changes (the runner ended, however it ended); checked every few ms.
SPIN = ("import os\n"
        "parent = os.getppid()\n"
        "while os.getppid() == parent:\n"
        "    for _ in range(100_000):\n"
        "        pass\n")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def start_load(workers: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL)
            for _ in range(workers)]


def stop_load(loops: list[subprocess.Popen[bytes]]) -> None:
    for loop in loops:
        if loop.poll() is None:
            loop.terminate()
    for loop in loops:
        try:
            loop.wait(timeout=10)
        except subprocess.TimeoutExpired:
            loop.kill()
            loop.wait()


def run_once(command: Sequence[str]) -> int:
    """Run `command`; interrupted, pass SIGTERM on and give it a minute to stop what it started
    (the suite's fixtures stop Azurite and the emulators on SIGTERM) before killing it."""
    child = subprocess.Popen(list(command))
    try:
        return child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def run_under_load(command: Sequence[str], *, workers: int, runs: int) -> int:
    """Run `command` `runs` times with `workers` busy loops beside it; the first failing status."""
    loops = start_load(workers)
    outcome = 0
    try:
        for number in range(1, runs + 1):
            print(f"under load ({workers} busy loops): run {number}/{runs}: {' '.join(command)}",
                  flush=True)
            began = time.monotonic()
            status = run_once(command)
            took = time.monotonic() - began
            print(f"under load: run {number}/{runs} {'passed' if status == 0 else 'FAILED'} "
                  f"(exit {status}) in {took / 60:.1f} min", flush=True)
            outcome = outcome or status
    finally:
        stop_load(loops)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=cores(),
                        help="busy loops to run beside the command (default: one per core)")
    parser.add_argument("--runs", type=int, default=1, help="run the command this many times")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to run after --")
    if options.workers < 1 or options.runs < 1:
        parser.error("--workers and --runs must be at least 1")
    try:
        return run_under_load(command, workers=options.workers, runs=options.runs)
    except KeyboardInterrupt:
        print("under load: interrupted; the load is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
