"""The processes of a bench run, started as production starts them: the SMTP sink, gunicorn
(the repo's gunicorn.conf.py, bound to loopback) and a Celery worker. Each runs in its own
process group, so stopping one stops its children (gunicorn's workers, Celery's pool) and
nothing else."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import REPO

BIN = Path(sys.executable).parent


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(start: int, count: int, end: int = 8699) -> list[int]:
    """`count` consecutive free ports from `start` on, within the bench's range."""
    port = start
    while port + count - 1 <= end:
        if all(port_free(p) for p in range(port, port + count)):
            return list(range(port, port + count))
        port += count
    raise SystemExit(f"no {count} free ports between {start} and {end}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, cmd: list[str], *, env: dict, log: Path) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("w")
    popen = subprocess.Popen(  # noqa: S603 - our own commands
        cmd,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: see Process.stop
    )
    handle.close()
    return Process(name, popen, log)


@dataclass
class Stack:
    env: dict
    var: Path
    port: int
    smtp_port: int
    web_workers: int
    worker_processes: int
    processes: list[Process] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sink_count_file(self) -> Path:
        return self.var / "smtp-sink.count"

    @property
    def sink_delay_file(self) -> Path:
        return self.var / "smtp-sink.delay"

    def set_smtp_delay(self, seconds: float) -> None:
        self.sink_delay_file.write_text(f"{seconds}\n")

    def sink_count(self) -> int:
        try:
            return int(self.sink_count_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def start_sink(self) -> Process:
        self.set_smtp_delay(0)
        proc = start(
            "smtp-sink",
            [
                str(BIN / "python"),
                "-m",
                "bench.smtp_sink",
                "--port",
                str(self.smtp_port),
                "--count-file",
                str(self.sink_count_file),
                "--delay-file",
                str(self.sink_delay_file),
            ],
            env=self.env,
            log=self.var / "logs" / "smtp-sink.log",
        )
        self.processes.append(proc)
        self._wait_port(proc, self.smtp_port, 20)
        return proc

    def start_web(self) -> Process:
        proc = start(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                # Loopback only: the config binds all interfaces, as a container needs.
                "-b",
                f"127.0.0.1:{self.port}",
                "outsmart.wsgi",
            ],
            env=self.env,
            log=self.var / "logs" / "gunicorn.log",
        )
        self.processes.append(proc)
        deadline = time.monotonic() + 60
        while True:
            if not proc.alive():
                raise RuntimeError(f"gunicorn exited at start-up:\n{proc.tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:  # noqa: S310
                    if response.status == 200 and len(self.web_worker_pids(proc)) >= 1:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz in 60 s:\n{proc.tail()}")
            time.sleep(0.3)
        # Every worker booted (each answers once it has imported the app).
        while len(self.web_worker_pids(proc)) < self.web_workers:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start all its workers")
            time.sleep(0.2)
        return proc

    def start_worker(self) -> Process:
        proc = start(
            "celery",
            [
                str(BIN / "celery"),
                "-A",
                "outsmart",
                "worker",
                "--concurrency",
                str(self.worker_processes),
                "-n",
                f"bench-{self.port}@%h",
                "-l",
                "info",
            ],
            env=self.env,
            log=self.var / "logs" / "celery.log",
        )
        self.processes.append(proc)
        from outsmart.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if not proc.alive():
                raise RuntimeError(f"the Celery worker exited at start-up:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not answer in 60 s:\n{proc.tail()}")
        return proc

    def web(self) -> Process:
        return next(p for p in self.processes if p.name == "gunicorn")

    @staticmethod
    def web_worker_pids(proc: Process) -> list[int]:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        try:
            return sorted(int(pid) for pid in children.read_text().split())
        except OSError:
            return []

    def web_rss(self) -> dict[int, float]:
        """Resident memory (MiB) of each gunicorn worker, from /proc."""
        return {pid: rss_mib(pid) for pid in self.web_worker_pids(self.web())}

    def check_alive(self) -> None:
        for proc in self.processes:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} died during the run:\n{proc.tail()}")

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def _wait_port(self, proc: Process, port: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited at start-up:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not listen on {port}:\n{proc.tail()}")
            time.sleep(0.2)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
