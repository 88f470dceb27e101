"""What the benchmarks measure with: percentiles, latency distributions, and the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.launch import LaunchError, OpsimUp


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(seconds: Sequence[float]) -> dict[str, float]:
    """median, p90, p99, max and mean in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {"median": percentile(ms, 50), "p90": percentile(ms, 90), "p99": percentile(ms, 99), "max": max(ms),
            "mean": statistics.fmean(ms)}


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and OS of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram_gib, "python": platform.python_version(),
            "os": platform.platform()}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


#: The clock of every benchmark's sandbox: frozen on a Tuesday morning, as the pytest plugin's.
FROZEN_CLOCK = '[clock]\nstart = "2026-11-24T10:00:00"\nfrozen = true\n'


@dataclass
class Launched:
    """An `opsim up` subprocess and the endpoints its ready lines gave."""

    proc: subprocess.Popen[str]
    ftp_port: int  # the first operator's (Covage's)
    http: str  # the admin API's base, http://127.0.0.1:PORT


def launch_opsim(workdir: Path, extra_config: str = "") -> Launched:
    """`opsim up` in a subprocess on free ports, its data dir in `workdir`, the clock frozen (and `extra_config`
    after it in its configuration file), once its ready lines are read; its output keeps being drained so that
    it never blocks on a full pipe. The benchmark's client side never shares its interpreter."""
    config = workdir / "opsim.toml"
    config.write_text(FROZEN_CLOCK + extra_config, encoding="utf-8")
    up = OpsimUp(workdir / "data", config, ["--ftp-port", "0", "--http-port", "0"])
    try:
        up.start()
    except LaunchError as e:
        raise RuntimeError(str(e)) from None
    assert up.proc is not None
    return Launched(up.proc, up.ftp_port, up.http_url)
