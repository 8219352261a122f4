"""What a bench run is made of: the data set's shape, the load, and where everything runs.

Two profiles: `full` (make bench: the issue's data set, 15 s per scenario) and `smoke`
(make bench-smoke, run by CI: a tiny data set and about a second per scenario, so every code
path runs in well under a minute without measuring anything worth comparing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Bump when dataset.py changes what it builds: a data set with another version is rebuilt.
DATASET_VERSION = 1

# Fixed, bench-only secrets (50+ characters, as production requires). They key the digests
# of the codes and tokens in the bench database, so they must not change between runs.
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
ACCESS_CODE_SECRET = "bench-only-access-code-secret-not-for-production-0123456789abcdefghij"  # noqa: S105


@dataclass(frozen=True)
class Shape:
    """The data set. Every office but the big and the small one gets `members_per_office`
    members; patients are spread over the offices, `big_patients` of them in the big one."""

    offices: int
    big_members: int  # active members of the big office (its Practitioners and Staff tab)
    big_pending: int  # pending invitations of the big office
    small_members: int  # the small office: the same tab at the other end of the scale
    members_per_office: int
    patients: int
    big_patients: int
    codes: int
    active_codes: int
    appointments_per_patient: int
    form_requests_per_patient: int
    documents_per_patient: int
    plans_per_patient: int
    portal_accounts: int  # patient accounts, each with one medical-records grant
    audit_events: int  # history already in the audit log

    def as_dict(self) -> dict:
        return {"version": DATASET_VERSION, **self.__dict__}


@dataclass(frozen=True)
class Profile:
    name: str
    shape: Shape
    database: str
    redis_db: int
    port: int  # gunicorn; the SMTP sink listens on port + 1
    duration: int  # seconds of measured load per scenario
    warmup: int  # seconds of unmeasured load before it (0: a few single requests instead)
    threads: int
    connections: int
    rounds: int  # the same load run again: memory growth between the rounds
    redeem_codes: int  # fresh access codes issued per round for the redemption POST
    expiry_codes: int
    fanout_emails: int
    invite_threads: int  # one admin (and session) per wrk thread for the invite POSTs
    invite_posts_per_thread: int
    slow_smtp_delay: float
    web_workers: int = 2
    worker_processes: int = 2
    results_dir: Path = field(default=REPO / "bench" / "results")


FULL = Profile(
    name="full",
    shape=Shape(
        offices=50,
        big_members=300,
        big_pending=300,
        small_members=3,
        members_per_office=6,
        patients=20_000,
        big_patients=5_000,
        codes=200_000,
        active_codes=50_000,
        appointments_per_patient=5,
        form_requests_per_patient=2,
        documents_per_patient=2,
        plans_per_patient=1,
        portal_accounts=5_000,
        audit_events=200_000,
    ),
    database="outsmart_bench",
    redis_db=13,
    port=8600,
    duration=15,
    warmup=3,
    threads=2,
    connections=8,
    rounds=2,
    redeem_codes=12_000,
    expiry_codes=1_000_000,
    fanout_emails=1_000,
    invite_threads=8,
    invite_posts_per_thread=19,
    slow_smtp_delay=2.0,
)

SMOKE = Profile(
    name="smoke",
    shape=Shape(
        offices=3,
        big_members=12,
        big_pending=12,
        small_members=3,
        members_per_office=3,
        patients=200,
        big_patients=100,
        codes=2_000,
        active_codes=500,
        appointments_per_patient=2,
        form_requests_per_patient=1,
        documents_per_patient=1,
        plans_per_patient=1,
        portal_accounts=20,
        audit_events=1_000,
    ),
    database="outsmart_bench_smoke",
    redis_db=14,
    port=8610,
    duration=1,
    warmup=0,
    threads=2,
    connections=8,
    rounds=2,
    redeem_codes=1_500,
    expiry_codes=2_000,
    fanout_emails=20,
    invite_threads=2,
    invite_posts_per_thread=3,
    slow_smtp_delay=2.0,
    results_dir=REPO / "var" / "bench-smoke",
)

PROFILES = {"full": FULL, "smoke": SMOKE}


def database_url(profile: Profile) -> str:
    base = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    return f"{base.rstrip('/')}/{profile.database}"


def redis_url(profile: Profile) -> str:
    base = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
    return f"{base.rstrip('/')}/{profile.redis_db}"


def var_dir(profile: Profile) -> Path:
    return REPO / "var" / f"bench-{profile.name}"


def app_environment(profile: Profile, *, port: int, smtp_port: int) -> dict[str, str]:
    """Production settings (DEBUG off, real secrets, PostgreSQL, Redis, SMTP) on loopback.
    The same for the driver, the web and the worker processes, so sessions, digests and
    the task queue agree."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing of the caller's own configuration leaks into the bench.
        if not key.startswith(("DJANGO_", "CELERY_"))
        and key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "EMAIL_URL",
            "SMS_URL",
            "SITE_URL",
            "DEBUG",
            "ALLOWED_HOSTS",
            "OUTSMART_VAR_DIR",
            "WEB_CONCURRENCY",
            "PORT",
        }
    }
    env.update(
        DJANGO_SETTINGS_MODULE="outsmart.settings",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECRET_KEY=SECRET_KEY,
        ACCESS_CODE_SECRET=ACCESS_CODE_SECRET,
        DATABASE_URL=database_url(profile),
        REDIS_URL=redis_url(profile),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}?timeout=30",
        SITE_URL=f"http://127.0.0.1:{port}",
        OUTSMART_VAR_DIR=str(var_dir(profile)),
        PORT=str(port),
        WEB_CONCURRENCY=str(profile.web_workers),
        PYTHONUNBUFFERED="1",
    )
    return env
