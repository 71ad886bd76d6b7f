"""Watching the servers during the load benchmark: the Rasa server's
resident memory (VmRSS from /proc, sampled), the CPU time each process used
(/proc/<pid>/stat, and this client's own) and, on request, a py-spy flame
graph."""
from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple


def _status_kib(pid: int, field: str) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # "VmRSS:   123456 kB"
    except (OSError, ValueError, IndexError):
        return None
    return None


def children(pid: int) -> List[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children", encoding="ascii") as handle:
                kids = [int(k) for k in handle.read().split()]
        except (OSError, ValueError):
            kids = []
        found += kids
        frontier += kids
    return found


def rss_mib(pid: int) -> Optional[float]:
    """Resident memory of ``pid`` and its descendants in MiB (the Rasa server
    runs one process; a worker it forked would be counted too); None when
    the process is gone."""
    own = _status_kib(pid, "VmRSS")
    if own is None:
        return None
    total = own + sum(_status_kib(child, "VmRSS") or 0 for child in children(pid))
    return total / 1024


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU time of ``pid`` and its live descendants, in seconds;
    None when the process is gone."""

    def own(one: int) -> Optional[float]:
        try:
            with open(f"/proc/{one}/stat", encoding="ascii", errors="replace") as handle:
                # The command name (field 2) may hold spaces: count after its ")".
                fields = handle.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    first = own(pid)
    if first is None:
        return None
    return first + sum(own(child) or 0.0 for child in children(pid))


def client_cpu_seconds() -> float:
    """This process's own user + system CPU time (the load client)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds used by named processes (and by this client) between
    ``start()`` and ``stop()``: where a message's CPU time goes."""

    def __init__(self, pids: Dict[str, int]):
        self.pids = pids
        self._before: Dict[str, Optional[float]] = {}

    def _read(self) -> Dict[str, Optional[float]]:
        found: Dict[str, Optional[float]] = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        found["client"] = client_cpu_seconds()
        return found

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> Dict[str, Optional[float]]:
        after = self._read()
        used: Dict[str, Optional[float]] = {}
        for name, value in after.items():
            before = self._before.get(name)
            used[name] = None if value is None or before is None else round(value - before, 2)
        return used


class RssSampler:
    """Samples ``rss_mib(pid)`` every ``interval`` seconds in the event loop
    while the load runs; ``peak`` is the largest sample."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval = pid, interval
        self.samples: List[float] = []
        self._task: Optional[asyncio.Task] = None

    def _sample(self) -> None:
        value = rss_mib(self.pid)
        if value is not None:
            self.samples.append(value)

    async def _loop(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> "RssSampler":
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._sample()

    @property
    def peak(self) -> Optional[float]:
        return round(max(self.samples), 1) if self.samples else None

    @property
    def first(self) -> Optional[float]:
        return round(self.samples[0], 1) if self.samples else None


def py_spy_path() -> Optional[str]:
    """py-spy next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """``py-spy record`` attached to a running process until stopped; writes
    an SVG flame graph. Attaching needs ptrace (CAP_SYS_PTRACE or a permissive
    Yama ptrace_scope)."""

    def __init__(self, pid: int, svg: Path, log: Path, rate: int = 50):
        self.pid, self.svg, self.log, self.rate = pid, svg, log, rate
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> Optional[str]:
        """None when started, else why not."""
        executable = py_spy_path()
        if executable is None:
            return "py-spy is not installed (pip install py-spy into the venv)"
        self.svg.parent.mkdir(parents=True, exist_ok=True)
        self.svg.unlink(missing_ok=True)  # "written" must mean written by this run
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [executable, "record", "--pid", str(self.pid), "--output", str(self.svg),
                 "--format", "flamegraph", "--rate", str(self.rate), "--subprocesses"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        return None

    def stop(self) -> Tuple[bool, str]:
        """(whether the SVG was written, what py-spy said)."""
        if self.process is None:
            return False, "not started"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        said = self.log.read_text(encoding="utf-8", errors="replace").strip()
        written = self.svg.exists() and self.svg.stat().st_size > 0
        return written, said[-2000:]
