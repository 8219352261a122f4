"""SQL queries per request, counted in the driver: Django's test client sends the same request
as the load generator (same session, same database, full middleware stack) and
CaptureQueriesContext counts what it runs. The first request warms the session cache, as on
the server; the next ones are counted and timed.

The time is the application's own cost of one request, without HTTP, gunicorn or a queue in
front of it: wall time, the Python process's CPU time, and the time spent waiting for SQL. It
explains the throughput under load better than the latencies, which include waiting."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.fixtures import Session


@dataclass(frozen=True)
class Count:
    queries: int
    status: int
    statements: list[str]
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    sql_ms: float = 0.0


def _client(session: Session | None) -> Client:
    client = Client(HTTP_HOST="127.0.0.1")
    if session is not None:
        for part in session.cookie.split("; "):
            name, _, value = part.partition("=")
            client.cookies[name] = value
    return client


def count(
    session: Session | None,
    path: str,
    *,
    method: str = "GET",
    bodies: list[str] | None = None,
    expect: int = 200,
    repeat: int = 5,
) -> Count:
    """Queries and time of a request to `path`: the first request (or body) warms up, the
    others are measured (the query count is the last one's)."""
    client = _client(session)

    def send(body: str | None):
        if method == "GET":
            return client.get(path)
        data = f"csrfmiddlewaretoken={session.csrf}&{body}"
        return client.post(path, data=data, content_type="application/x-www-form-urlencoded")

    if bodies is None:  # a GET: warm up once, then measure `repeat` requests
        bodies = [None] * (1 + repeat)
    for body in bodies[:1]:
        send(body)
    measured = bodies[1:]
    wall = cpu = sql = 0.0
    for body in measured:
        with CaptureQueriesContext(connection) as captured:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = send(body)
            wall += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
        sql += sum(float(q["time"]) for q in captured.captured_queries)
        if response.status_code != expect:
            raise RuntimeError(
                f"{method} {path} answered {response.status_code} in the query count, "
                f"expected {expect}"
            )
    n = len(measured)
    return Count(
        queries=len(captured.captured_queries),
        status=response.status_code,
        statements=[q["sql"] for q in captured.captured_queries],
        wall_ms=wall / n * 1000,
        cpu_ms=cpu / n * 1000,
        sql_ms=sql / n * 1000,
    )
