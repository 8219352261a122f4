"""The results file: the machine, the data set, one table per measurement, PASS/MISS per target."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from bench.config import REPO


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _command(*cmd: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed commands
            cmd, capture_output=True, text=True, timeout=10, check=False, cwd=REPO
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def machine() -> dict[str, str]:
    import celery
    import django
    import gunicorn
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip('"')
            for line in _read("/etc/os-release").splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    from outsmart.celery import app

    with app.connection_for_write() as conn:
        redis_version = conn.channel().client.info("server").get("redis_version", "?")
    commit = _command("git", "rev-parse", "--short", "HEAD") or "unknown"
    if _command("git", "status", "--porcelain"):
        commit += " (with uncommitted changes)"
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "Memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "OS": f"{os_name}, Linux {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": pg,
        "Redis": redis_version,
        "Django / gunicorn / Celery": f"{django.__version__} / {gunicorn.__version__} / "
        f"{celery.__version__}",
        "wrk": _command("wrk", "--version").splitlines()[0] if _command("wrk", "--version") else "",
        "git commit": commit,
    }


def dataset_counts(ids) -> dict[str, int]:
    from django.db import connection

    big = {"office": ids.big_office}
    queries = {
        "offices (data set)": (
            "SELECT count(*) FROM offices_office WHERE name NOT LIKE 'Bench invite office%%'",
            {},
        ),
        "active members, big office": (
            "SELECT count(*) FROM offices_membership "
            "WHERE office_id = %(office)s AND removed_at IS NULL",
            big,
        ),
        "pending invitations, big office": (
            "SELECT count(*) FROM invitations_invitation "
            "WHERE office_id = %(office)s AND status = 'pending'",
            big,
        ),
        "patients": ("SELECT count(*) FROM records_patient", {}),
        "patients, big office": (
            "SELECT count(*) FROM records_patient WHERE office_id = %(office)s",
            big,
        ),
        "access codes": ("SELECT count(*) FROM accesscodes_accesscode", {}),
        "access codes, active": (
            "SELECT count(*) FROM accesscodes_accesscode WHERE status = 'active'",
            {},
        ),
        "appointments": ("SELECT count(*) FROM records_appointment", {}),
        "Smart Form requests": ("SELECT count(*) FROM records_formrequest", {}),
        "documents": ("SELECT count(*) FROM records_document", {}),
        "treatment plans": ("SELECT count(*) FROM records_treatmentplan", {}),
        "portal grants": ("SELECT count(*) FROM portal_portalaccess", {}),
        "users": ("SELECT count(*) FROM accounts_user", {}),
        "audit events": ("SELECT count(*) FROM audit_auditevent", {}),
    }
    counts = {}
    with connection.cursor() as cursor:
        for label, (sql, params) in queries.items():
            cursor.execute(sql, params)
            counts[label] = cursor.fetchone()[0]
    return counts


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "—"
    return "PASS" if ok else "**MISS**"


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
