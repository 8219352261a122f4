"""The background measurements: code expiry on many codes, the invitation fan-out through the
real worker, and waiting for the worker to be idle between scenarios."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bench.dataset import Ids
from bench.stack import Stack


def queue_length() -> int:
    """Task messages waiting in the broker (the worker's default queue)."""
    from django.conf import settings

    from outsmart.celery import app

    with app.connection_for_write() as conn:
        client = conn.channel().client
        return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))


def wait_quiet(stack: Stack, timeout: float = 180) -> float:
    """Wait until the worker has sent everything queued (no message waiting, the SMTP sink's
    count still for half a second), so one scenario's emails do not take CPU from the next one.
    Returns the seconds waited."""
    started = time.monotonic()
    last = stack.sink_count()
    still_since = time.monotonic()
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        count = stack.sink_count()
        if count != last or queue_length():
            last, still_since = count, time.monotonic()
        elif time.monotonic() - still_since >= 0.5:
            break
    return time.monotonic() - started


@dataclass
class Expiry:
    codes: int
    expired: int
    seconds: float
    statements: int
    sql: list[str]
    plan: str


def code_expiry(ids: Ids, count: int, log) -> Expiry:
    """`count` active Medical Records Access Codes past their expiry, added to the data set's
    codes with one set-based INSERT, then the beat task `accesscodes.expire` run on them (the
    same function the worker runs), timed and its statements counted.

    All in one transaction that is rolled back: deleting a million rows again would cost as
    much as the measurement, and the data set keeps its shape. (The task's UPDATE does the same
    work inside it: every row gets a new version and new index entries.)"""
    from accesscodes.tasks import access_codes_expire

    tag = str(time.time_ns())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                started = time.monotonic()
                # Digests are sha256 of a unique seed: 64 hex characters spread like the HMACs,
                # in no relation to the rows' order (as real codes); nobody redeems these.
                cursor.execute(
                    """
                    INSERT INTO accesscodes_accesscode (
                        kind, code_digest, link_digest, sealed, status, issued_at, expires_at,
                        issue_key, channel, address, delivery_state, delivery_attempts,
                        delivery_error, delivery_due_at, cancel_reason, dob_failures,
                        issued_by_id, office_id, patient_id
                    )
                    SELECT 'medical_records',
                           encode(sha256(convert_to('c' || %(tag)s || i, 'UTF8')), 'hex'),
                           encode(sha256(convert_to('l' || %(tag)s || i, 'UTF8')), 'hex'),
                           '', 'active',
                           now() - interval '6 days' - i * interval '1 millisecond',
                           now() - interval '1 day' - i * interval '1 millisecond',
                           '', 'phone', '', 'handed', 0, '',
                           now() - interval '6 days', '', 0, %(issuer)s, %(office)s,
                           (%(patients)s::bigint[])[1 + i %% %(npatients)s]
                    FROM generate_series(1, %(count)s) AS i
                    """,
                    {
                        "tag": tag,
                        "issuer": ids.redeem_issuer,
                        "office": ids.big_office,
                        "patients": ids.patients[ids.big_office],
                        "npatients": len(ids.patients[ids.big_office]),
                        "count": count,
                    },
                )
                # As autovacuum would have by the time a beat run finds them due.
                cursor.execute("ANALYZE accesscodes_accesscode")
                log(f"  {count} due codes inserted in {time.monotonic() - started:.1f} s")
                cursor.execute(
                    "EXPLAIN UPDATE accesscodes_accesscode SET status = 'expired', sealed = '' "
                    "WHERE status = 'active' AND expires_at <= now()"
                )
                plan = "\n".join(row[0] for row in cursor.fetchall())
            with CaptureQueriesContext(connection) as captured:
                started = time.monotonic()
                expired = access_codes_expire()
                seconds = time.monotonic() - started
            raise _Rollback
    except _Rollback:
        pass
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accesscodes_accesscode")
    log(f"  rolled back and vacuumed in {time.monotonic() - started:.1f} s")
    return Expiry(
        codes=count,
        expired=expired,
        seconds=seconds,
        statements=len(captured.captured_queries),
        sql=[q["sql"] for q in captured.captured_queries],
        plan=plan,
    )


class _Rollback(Exception):
    pass


@dataclass
class Fanout:
    emails: int
    queued_seconds: float  # creating the invitations and queueing their emails
    delivered_seconds: float  # from the start until every row says "sent"
    sent: int
    failed: int
    sink_received: int


def invitation_fanout(stack: Stack, ids: Ids, count: int, tag: str, timeout: float) -> Fanout:
    """`count` invitations created through the app's service (limits off, as an operator's
    bulk invite), their emails sent by the real worker to the SMTP sink. Timed from the first
    creation until every invitation's row records its email as sent."""
    from invitations.models import Invitation
    from invitations.services import invitation_create
    from offices.models import Office
    from outsmart.accounts.models import User

    office = Office.objects.get(pk=ids.fanout_office)
    admin = User.objects.get(pk=ids.fanout_admin)
    emails = [f"fanout-{tag}-{n}@invitees.bench.example" for n in range(count)]
    sink_before = stack.sink_count()
    started = time.monotonic()
    # One transaction each (the service is atomic): each email is queued as its invitation
    # commits, so the worker starts while the rest are still being created.
    for email in emails:
        invitation_create(
            office=office, email=email, role="staff", invited_by=admin, enforce_limits=False
        )
    queued = time.monotonic() - started
    rows = Invitation.objects.filter(office=office, email__startswith=f"fanout-{tag}-")
    while True:
        states = dict(_states(rows))
        done = states.get("sent", 0) + states.get("failed", 0)
        if done >= count or time.monotonic() - started > timeout:
            break
        time.sleep(0.1)
    delivered = time.monotonic() - started
    return Fanout(
        emails=count,
        queued_seconds=queued,
        delivered_seconds=delivered,
        sent=states.get("sent", 0),
        failed=states.get("failed", 0),
        sink_received=stack.sink_count() - sink_before,
    )


def _states(rows) -> list[tuple[str, int]]:
    from django.db.models import Count

    return list(
        rows.order_by()
        .values("delivery_state")
        .annotate(n=Count("id"))
        .values_list("delivery_state", "n")
    )
