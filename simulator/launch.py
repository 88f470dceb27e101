"""`opsim up` in a subprocess, ready once its banner gave the endpoints: the one launcher of the conformance
harness's own sandbox, the tests' and the benchmarks'.

It reads the banner `opsim up` prints when it is ready (cli._print_ready: one `ftp ftp://host:port` line per
operator, then the admin API's `http://host:port/api`), and keeps draining the output afterwards so that a chatty
sandbox never blocks on a full pipe; everything printed is kept in `output`. Ready is that banner, however long a
loaded machine takes to print it: only a process that ended, or one silent far beyond any start, is a failure.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Seconds `opsim up` has to print its banner (a cold start on a loaded machine takes a few).
READY_WITHIN = 120.0
_FTP = re.compile(r"\bftp\s+ftp://([^:\s]+):(\d+)")
_HTTP = re.compile(r"(http://[^/\s]+)/api\b")


class LaunchError(RuntimeError):
    """`opsim up` ended, or printed no banner in time; the message holds what it printed."""


class OpsimUp:
    """One `opsim up` process: `--data-dir data_dir`, `--config config` when given, then `args`."""

    def __init__(self, data_dir: Path, config: Path | None = None, args: Sequence[str] = (),
                 cwd: Path | None = None, env: Mapping[str, str] | None = None):
        self.data_dir, self.config, self.extra, self.cwd = data_dir, config, list(args), cwd
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.http_url = ""  # http://host:port, the admin API's root
        self.ftp_ports: list[int] = []  # each operator's FTP port, in the banner's order (the profiles')

    @property
    def ftp_port(self) -> int:
        """The first operator's FTP port."""
        return self.ftp_ports[0]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "simulator.cli", "up", "--data-dir", str(self.data_dir),
                *(["--config", str(self.config)] if self.config else []), *self.extra]

    def start(self, timeout: float = READY_WITHIN) -> OpsimUp:
        self.output, self.ftp_ports, self.http_url = [], [], ""
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        lines: queue.Queue[str] = queue.Queue()

        def pump(out: object) -> None:
            for line in out:  # type: ignore[attr-defined]
                self.output.append(line)
                lines.put(line)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.http_url:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                ended = self.proc.poll() is not None and lines.empty()
                if ended or time.monotonic() > deadline:
                    self.stop()
                    why = f"ended ({self.proc.returncode})" if ended else f"is not ready after {timeout:g} s"
                    raise LaunchError(f"opsim up {why}: {''.join(self.output)}") from None
                continue
            if m := _FTP.search(line):
                self.ftp_ports.append(int(m[2]))
            elif m := _HTTP.search(line):
                self.http_url = m[1]
        return self

    def stop(self, timeout: float = 10) -> None:
        """SIGINT (as Ctrl-C: `opsim up` stops cleanly), then SIGKILL if it has not ended within `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def kill9(self) -> None:
        """As a crash would: no chance to stop cleanly."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def __enter__(self) -> OpsimUp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
