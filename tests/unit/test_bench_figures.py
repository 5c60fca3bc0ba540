"""Benchmark figures measure what they say: a benchmark's memory figure is its own process's
peak, whatever ran before it in the same `make bench`, and every ratio says what CPU and load it
was measured under.

The memory-hungry step is a process that touches 400 MiB and then runs a small benchmark, as
`make bench` runs the score benchmark after the Graph benchmark's million-row emulator: with
`ru_maxrss` the child benchmark inherited that 400 MiB peak across exec (the kernel's
`setmax_mm_hiwater_rss`), with VmHWM it reports its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.machine import conditions, cpu_model, peak_rss_mb

ROOT = Path(__file__).resolve().parents[2]
HUNGRY_MB = 400

_AFTER_HUNGRY = """
import json, sys
hungry = bytearray({mb} * 2**20)
for i in range(0, len(hungry), 4096):
    hungry[i] = 1
del hungry
{run}
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def _after_hungry(run: str) -> str:
    return _python(_AFTER_HUNGRY.format(mb=HUNGRY_MB, run=run))


def test_a_child_of_a_hungry_process_reports_its_own_peak() -> None:
    probe = ("import json, resource; from bench.machine import peak_rss_mb; print(json.dumps("
             "[resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, peak_rss_mb()]))")
    child = ("import subprocess; print(subprocess.run([sys.executable, '-c', "
             f"{probe!r}], capture_output=True, text=True, check=True).stdout)")
    inherited, own = json.loads(_after_hungry("import json\n" + child))
    # What the figure used to be: the hungry parent's peak, carried across exec.
    assert inherited >= HUNGRY_MB
    assert own < HUNGRY_MB / 4


@pytest.mark.slow
def test_analyze_bench_memory_is_its_own_after_a_hungry_step() -> None:
    run = "from bench.analyze_bench import run; print(json.dumps(run(20_000)))"
    alone = json.loads(_python("import json\n" + run))
    after = json.loads(_after_hungry(run))
    assert after["analyze_peak_rss_mb_5m"] < HUNGRY_MB / 2
    assert after["analyze_peak_rss_mb_5m"] == pytest.approx(alone["analyze_peak_rss_mb_5m"],
                                                            rel=0.1)
    assert after["analyze_conditions_5m"]["cpu_model"] == cpu_model()


@pytest.mark.slow
def test_score_bench_memory_is_its_own_after_a_hungry_step() -> None:
    run = "from bench.score_bench import run; print(json.dumps(run(20_000)))"
    after = json.loads(_after_hungry(run))
    # 20,000 rows reviewed take well under 200 MiB; the hungry parent's 400 MiB is not ours.
    assert after["score_peak_rss_mb"] < HUNGRY_MB / 2
    assert len(after["score_conditions"]["load_average"]) == 3


def test_conditions_name_the_cpu_and_the_load() -> None:
    measured = conditions((1.0, 2.0, 3.0))
    assert measured["cpu_model"] and measured["cpus"] >= 1
    assert measured["load_average_at_start"] == [1.0, 2.0, 3.0]
    assert len(measured["load_average"]) == 3
    assert 0 < peak_rss_mb() < 10_000
