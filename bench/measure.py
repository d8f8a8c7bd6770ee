"""What every benchmark records besides wall time: peak resident memory, and the machine it ran on.

    from measure import PeakRSS, machine

    with PeakRSS() as mem:                          # this process
        ...
    with PeakRSS(proc.pid, children=True) as mem:   # a child process and everything it starts (DuckDB, a JVM)
        ...
    result = {"peak_rss_gb": round(mem.peak / 2**30, 2), "machine": machine()}
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
import time

import psutil


class PeakRSS:
    """Samples the resident set size of a process (by default this one), and with ``children`` that of every
    process below it too, every ``interval`` seconds until the block ends. ``peak`` is in bytes."""

    def __init__(self, pid: int | None = None, *, children: bool = False, interval: float = 0.05) -> None:
        self.pid = pid if pid is not None else os.getpid()
        self.children = children
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)] if self.children else [root]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # ended between listing and sampling
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.sample())


def java_version() -> str | None:
    java = shutil.which("java")
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True)
    text = out.stderr or out.stdout
    return text.splitlines()[0] if text else None


def machine(**extra) -> dict:
    """The machine and the versions that shape the figures, plus ``extra`` (a benchmark's own settings)."""
    import duckdb

    vm = psutil.virtual_memory()
    out = {"cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
           "ram_gb": round(vm.total / 2**30, 1), "available_gb": round(vm.available / 2**30, 1),
           "python": platform.python_version(), "duckdb": duckdb.__version__, "platform": platform.platform(),
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    out.update(extra)
    return out
