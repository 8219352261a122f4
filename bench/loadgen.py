"""The load generator: wrk, in its own process, with bench/scenario.lua."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "scenario.lua"


class LoadError(RuntimeError):
    """wrk failed, or the server answered something the scenario does not expect."""


@dataclass
class Scenario:
    key: str
    title: str
    path: str
    method: str = "GET"
    expect: int = 200
    expect_location: str = ""
    cookie: str = ""
    csrf: str = ""
    paths_file: Path | None = None
    bodies_file: Path | None = None
    sessions_file: Path | None = None
    invite_tag: str = ""
    max_per_thread: int = 0
    posts_per_session: int = 0
    target: dict = field(default_factory=dict)  # {"ratio": 0.4, "p99_ms": 50}


@dataclass
class Result:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict
    unexpected: int
    exhausted: int
    ran_out: int
    first_bad: str

    @property
    def failed(self) -> str:
        """Why this measurement cannot be trusted, or ""."""
        problems = []
        if self.requests == 0:
            problems.append("no request completed")
        socket_errors = {k: v for k, v in self.errors.items() if v and k != "status"}
        if socket_errors:
            problems.append(f"wrk errors {socket_errors}")
        if self.unexpected:
            problems.append(f"{self.unexpected} unexpected responses (first: {self.first_bad})")
        if self.exhausted or self.ran_out:
            problems.append("ran out of fresh access codes: issue more (redeem_codes)")
        return "; ".join(problems)


def wrk_available() -> str | None:
    return shutil.which("wrk")


def run(base: str, scenario: Scenario, *, threads: int, connections: int, duration: int) -> Result:
    env = dict(os.environ)
    env.update(
        BENCH_THREADS=str(threads),
        BENCH_METHOD=scenario.method,
        BENCH_EXPECT=str(scenario.expect),
        BENCH_EXPECT_LOCATION=scenario.expect_location,
        BENCH_COOKIE=scenario.cookie,
        BENCH_CSRF=scenario.csrf,
        BENCH_PATHS_FILE=str(scenario.paths_file or ""),
        BENCH_BODIES_FILE=str(scenario.bodies_file or ""),
        BENCH_SESSIONS_FILE=str(scenario.sessions_file or ""),
        BENCH_INVITE_TAG=scenario.invite_tag,
        BENCH_MAX_PER_THREAD=str(scenario.max_per_thread),
        BENCH_POSTS_PER_SESSION=str(scenario.posts_per_session),
    )
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        base + scenario.path,
    ]
    try:
        done = subprocess.run(  # noqa: S603 - our own command line
            cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise LoadError(f"wrk did not finish: {error}") from None
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise LoadError(
            f"wrk failed (exit {done.returncode}) for {scenario.key}:\n{done.stdout}\n{done.stderr}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = data["duration_us"] / 1e6
    return Result(
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["errors"],
        unexpected=data["unexpected"],
        exhausted=data["exhausted"],
        ran_out=data["ran_out"],
        first_bad=data["first_bad"],
    )
