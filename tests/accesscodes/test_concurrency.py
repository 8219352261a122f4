"""What only real concurrency shows: 20 requests using one code at the same moment (threads,
each with its own PostgreSQL connection), and rate limits shared by separate processes through
Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection

from accesscodes.models import AccessCode
from accesscodes.services import (
    GENERIC_FAILURE,
    USED,
    RedeemError,
    Throttled,
    access_code_redeem,
    access_code_reissue,
    database_now,
)
from accesscodes.words import code_generate
from outsmart.audit.models import AuditEvent
from portal.models import PortalAccess
from tests.accesscodes.conftest import ANNA_DOB, ANNA_EMAIL, WRONG_DOB
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


# --- 20 at once ----------------------------------------------------------------------------------
def test_twenty_simultaneous_redemptions_of_one_code_give_exactly_one_grant(issue):
    issued = issue()
    users = [UserFactory() for _ in range(20)]
    start = threading.Barrier(len(users))
    outcomes: dict[int, object] = {}

    def attempt(index: int, user) -> None:
        try:
            start.wait(timeout=10)
            outcomes[index] = access_code_redeem(
                typed=issued.code, date_of_birth=ANNA_DOB, user=user, ip=f"198.51.100.{index}"
            )
        except Exception as error:  # the test counts every kind of outcome
            outcomes[index] = error
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=attempt, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    successes = [o for o in outcomes.values() if not isinstance(o, Exception)]
    failures = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert len(successes) == 1, outcomes
    assert len(failures) == 19
    assert all(isinstance(f, RedeemError) and f.reason == "used" for f in failures), failures
    assert {f.message for f in failures} == {USED}

    [winner] = successes
    assert PortalAccess.objects.count() == 1
    grant = PortalAccess.objects.get()
    assert grant == winner.grant and grant.kind == "medical_records"
    row = AccessCode.objects.get(pk=issued.access_code.pk)
    assert row.status == "redeemed" and row.redeemed_by == grant.user
    assert AuditEvent.objects.filter(action="access_code.redeemed").count() == 1
    failed = AuditEvent.objects.filter(action="access_code.redeem_failed")
    assert failed.count() == 19
    assert {e.detail["reason"] for e in failed} == {"used"}
    # Told once: the winner and the address on file, not twenty times.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([grant.user.email, ANNA_EMAIL])


# --- rate limits across processes --------------------------------------------------------------
ATTEMPTS_SCRIPT = """
import datetime, json, sys

import django
import time_machine

django.setup()
from accesscodes.services import RedeemError, Throttled, access_code_redeem

moment, attempts = float(sys.argv[1]), json.loads(sys.argv[2])
results = []
with time_machine.travel(moment, tick=False):
    for attempt in attempts:
        dob = attempt.pop("dob")
        try:
            access_code_redeem(date_of_birth=datetime.date.fromisoformat(dob), **attempt)
            results.append("redeemed")
        except Throttled as error:
            results.append(f"throttled {error.minutes}")
        except RedeemError as error:
            results.append(error.reason)
print(json.dumps(results))
"""


def database_url() -> str:
    """The test database this process uses (its name depends on the xdist worker)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_process(moment: float, attempts: list[dict]) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "outsmart.settings",
        "DATABASE_URL": database_url(),
        # The Redis database this test's cache uses (one per xdist worker).
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "ACCESS_CODE_SECRET": settings.ACCESS_CODE_SECRET,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    return subprocess.Popen(
        [sys.executable, "-c", ATTEMPTS_SCRIPT, str(moment), json.dumps(attempts)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_together(moment: float, *batches: list[dict]) -> list[list[str]]:
    processes = [start_process(moment, batch) for batch in batches]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def window_start() -> float:
    """30 s into the current half hour: both limits' windows (10 and 15 minutes) start there."""
    now = database_now().timestamp()
    return now - now % 1800 + 30


def unknown(**kwargs) -> dict:
    return {"typed": code_generate(), "dob": ANNA_DOB.isoformat(), **kwargs}


def test_failures_from_one_ip_in_two_processes_add_up_to_the_limit(issue, practitioner):
    issued = issue()
    moment = window_start()
    ip = "203.0.113.50"
    wrong_dob = {"typed": issued.code, "dob": WRONG_DOB.isoformat(), "ip": ip}
    first, second = run_together(
        moment, [unknown(ip=ip) for _ in range(5)], [dict(wrong_dob) for _ in range(5)]
    )
    assert first == ["unknown"] * 5
    assert second == ["dob_mismatch"] * 5

    with time_machine.travel(moment, tick=False):
        # The 11th attempt, here, with the right code and date of birth: refused unread.
        with pytest.raises(Throttled) as throttled:
            access_code_redeem(typed=issued.code, date_of_birth=ANNA_DOB, ip=ip)
        assert throttled.value.minutes == 10
        assert "try again in 10 minutes" in throttled.value.message
        # A new code from the clinic does not reset the count.
        new = access_code_reissue(
            access_code=issued.access_code, actor=practitioner, channel="phone"
        )
        with pytest.raises(Throttled):
            access_code_redeem(typed=new.code, date_of_birth=ANNA_DOB, ip=ip)
        # And a third process is throttled too.
        [third] = run_together(moment, [unknown(ip=ip)])
        assert third == ["throttled 10"]

    throttled_events = AuditEvent.objects.filter(action="access_code.throttled")
    assert throttled_events.count() == 3
    assert {e.detail["limit"] for e in throttled_events} == {"redeem-ip"}
    assert AuditEvent.objects.filter(action="access_code.redeem_failed").count() == 10
    assert not PortalAccess.objects.exists()
    assert AccessCode.objects.get(pk=new.access_code.pk).status == "active"


def test_failures_for_one_account_from_two_processes_add_up_to_the_limit(issue):
    issued = issue()
    moment = window_start()
    identifier = "patient@example.net"
    first, second = run_together(
        moment,
        [unknown(ip="198.51.100.1", identifier=identifier) for _ in range(3)],
        [unknown(ip="198.51.100.2", identifier=identifier) for _ in range(2)],
    )
    assert first == ["unknown"] * 3 and second == ["unknown"] * 2

    with time_machine.travel(moment, tick=False):
        # From a third address: the account's limit, not the address's, stops it.
        with pytest.raises(Throttled) as throttled:
            access_code_redeem(
                typed=issued.code, date_of_birth=ANNA_DOB, ip="198.51.100.3", identifier=identifier
            )
        assert throttled.value.minutes == 15
        # Another account from the same addresses is not affected.
        with pytest.raises(RedeemError) as other:
            access_code_redeem(
                typed=code_generate(),
                date_of_birth=ANNA_DOB,
                ip="198.51.100.1",
                identifier="someone.else@example.net",
            )
        assert other.value.message == GENERIC_FAILURE
    [event] = AuditEvent.objects.filter(action="access_code.throttled")
    assert event.detail == {"limit": "redeem-account"}
    assert AccessCode.objects.get(pk=issued.access_code.pk).status == "active"
