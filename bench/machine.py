"""What a figure was measured on, and a process's own peak memory.

Peak memory: Linux's `ru_maxrss` (getrusage) is not the process's own high-water mark. On
`exec` the kernel folds the replaced address space's peak into the process's maxrss, so a child
started by a process that once held 2 GB reports 2 GB, whatever it used itself
(`setmax_mm_hiwater_rss` in the kernel's `fs/exec.c`). The
address space's own mark, `VmHWM` in /proc/PID/status (proc(5): "Peak resident set size"),
starts again with the new address space that exec creates: that is the figure reported here,
read by the process itself before it exits.

Conditions: every ratio is recorded with the CPU model and the load average it was measured
under, since other jobs on the machine weigh on the two sides of a ratio unevenly.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of the process's current address space (VmHWM), in MiB.

    Where /proc is missing (not Linux), ru_maxrss of this process stands in."""
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text()
    except OSError:
        if pid != "self":
            raise
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in {status}")


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (platform's answer elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def conditions(load_before: tuple[float, float, float] | None = None) -> dict[str, Any]:
    """CPU model, usable CPUs and the load average (1, 5, 15 min) now and, when given, at the
    start of the measurement: recorded beside every ratio."""
    now = [round(x, 2) for x in os.getloadavg()]
    out: dict[str, Any] = {"cpu_model": cpu_model(), "cpus": cpus(), "load_average": now}
    if load_before is not None:
        out["load_average_at_start"] = [round(x, 2) for x in load_before]
    return out
