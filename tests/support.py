"""Helpers tests share: waiting on real workers and brokers, reading query plans."""

from __future__ import annotations

import time

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def reset_broker_connections() -> None:
    """Forget the Celery app's connection and producer pools, made for the broker URL it first
    used: without this a changed broker_url is ignored. (Not force_close_all(): kombu keeps one
    pool per broker URL process-wide and would hand the closed pool back later.)"""
    from outsmart.celery import app

    app._pool = None
    app.amqp._producer_pool = None


def query_plan(sql: str, params=None, *, seqscan: bool = True) -> str:
    """PostgreSQL's plan for `sql`. With `seqscan=False` a table scan is only chosen when no
    index can serve the query at all, which is what "an index serves it" tests ask."""
    from django.db import connection

    with connection.cursor() as cursor:
        if not seqscan:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())
