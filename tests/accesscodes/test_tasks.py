"""Access-code tasks without a worker (eager Celery): delivery by email and SMS, the expiry job
(one statement over 100,000 codes), the day-3 reminder and the re-queue sweep. The same
delivery through a real worker: tests/integration/test_access_code_delivery.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import access_code_cancel, access_code_redeem, database_now
from accesscodes.tasks import (
    access_code_deliver,
    access_codes_expire,
    access_codes_remind,
    access_codes_requeue,
)
from outsmart import sms
from outsmart.audit.models import AuditEvent
from outsmart.sms import BaseSmsBackend, SmsError
from tests.accesscodes.conftest import ANNA_DOB, ANNA_EMAIL, ANNA_MOBILE, copy_codes
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+/a/([A-Za-z0-9_-]{24})/")


def fresh(access_code: AccessCode) -> AccessCode:
    access_code.refresh_from_db()
    return access_code


def actions(access_code: AccessCode) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="accesscodes.accesscode", target_id=str(access_code.pk)
        )
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


@pytest.fixture
def send_now(django_capture_on_commit_callbacks):
    """Run what the issue queued after commit (the deliver task, eagerly)."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


class ScriptedSms(BaseSmsBackend):
    """Raises the scripted errors in turn, then keeps messages in outsmart.sms.outbox."""

    script: list[SmsError] = []

    def send(self, message):
        if ScriptedSms.script:
            raise ScriptedSms.script.pop(0)
        sms.outbox.append(message)


@pytest.fixture
def scripted_sms(settings):
    settings.SMS_BACKEND = "tests.accesscodes.test_tasks.ScriptedSms"
    ScriptedSms.script = []
    yield ScriptedSms
    ScriptedSms.script = []


# --- delivery -----------------------------------------------------------------------------------
def test_emailed_code_carries_the_link_and_the_code_and_is_then_wiped(issue, send_now):
    issued = send_now(lambda: issue(channel="email", address=ANNA_EMAIL))
    [message] = mail.outbox
    assert message.to == [ANNA_EMAIL]
    assert message.subject == "Your Medical Records Access Link from Lakeside Clinic"
    html = message.alternatives[0][0]
    assert issued.link in message.body and issued.link in html
    assert issued.code.upper() in message.body
    assert " &nbsp;".join(word.upper() for word in issued.words) in html
    assert "only valid for 5 days" in message.body
    assert LINK.findall(message.body) == [issued.link.rstrip("/").rsplit("/", 1)[1]]
    row = fresh(issued.access_code)
    assert (row.delivery_state, row.sealed, row.delivery_attempts, row.delivery_error) == (
        "sent",
        "",
        1,
        "",
    )
    assert row.sent_at is not None
    assert actions(row) == ["access_code.issued", "access_code.sent"]
    # Run again (a duplicate message): nothing is sent twice.
    assert access_code_deliver(row.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_emailed_smart_form_link_names_the_form(issue, send_now, form_request):
    send_now(
        lambda: issue(
            kind="smart_form", form_request=form_request, channel="email", address=ANNA_EMAIL
        )
    )
    [message] = mail.outbox
    assert message.subject == "Lakeside Clinic asks you to fill in “New patient intake”"
    assert "never your medical records" in message.body


def test_sms_carries_the_code_and_a_short_link(issue, send_now, settings):
    settings.SMS_BACKEND = "outsmart.sms.LocmemBackend"
    issued = send_now(lambda: issue(channel="sms", address=ANNA_MOBILE))
    [text] = sms.outbox
    assert text.to == ANNA_MOBILE
    assert issued.code.upper() in text.body
    assert issued.link in text.body and len(issued.link) < 60
    assert text.body.startswith("Lakeside Clinic: ")
    assert fresh(issued.access_code).delivery_state == "sent"
    assert fresh(issued.access_code).sealed == ""
    assert mail.outbox == []


def test_a_transient_sms_error_is_retried(issue, send_now, scripted_sms):
    scripted_sms.script = [SmsError("SMS provider answered 503", transient=True)]
    issued = send_now(lambda: issue(channel="sms", address=ANNA_MOBILE))
    # Eager tasks run the retry at once.
    assert len(sms.outbox) == 1
    row = fresh(issued.access_code)
    assert (row.delivery_state, row.delivery_attempts, row.sealed) == ("sent", 2, "")


def test_a_permanent_sms_error_fails_at_once_and_wipes_the_sealed_code(
    issue, send_now, scripted_sms
):
    scripted_sms.script = [SmsError("SMS provider answered 400", transient=False)]
    issued = send_now(lambda: issue(channel="sms", address=ANNA_MOBILE))
    assert sms.outbox == []
    row = fresh(issued.access_code)
    assert (row.delivery_state, row.delivery_attempts, row.delivery_error, row.sealed) == (
        "failed",
        1,
        "SMS provider answered 400",
        "",
    )
    assert actions(row) == ["access_code.issued", "access_code.delivery_failed"]
    assert access_code_deliver(row.pk) == "skipped"


def test_sms_that_keeps_failing_stops_after_five_attempts(issue, send_now, scripted_sms):
    scripted_sms.script = [SmsError("SMS provider timed out", transient=True)] * 6
    issued = send_now(lambda: issue(channel="sms", address=ANNA_MOBILE))
    row = fresh(issued.access_code)
    assert (row.delivery_state, row.delivery_attempts, row.sealed) == ("failed", 5, "")
    assert sms.outbox == []


@pytest.mark.parametrize("stopped_by", ["cancel", "expiry"])
def test_a_code_stopped_before_the_worker_runs_is_not_sent(issue, practitioner, stopped_by):
    issued = issue(channel="email", address=ANNA_EMAIL)  # queued; the worker has not run
    if stopped_by == "cancel":
        access_code_cancel(access_code=issued.access_code, actor=practitioner)
    else:
        AccessCode.objects.filter(pk=issued.access_code.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    assert access_code_deliver(issued.access_code.pk) == "skipped"
    assert mail.outbox == []


# --- expiry -------------------------------------------------------------------------------------
def test_expiry_task_marks_100000_codes_in_one_statement(issue, django_assert_num_queries):
    # The database clock: the task compares with the statement's time, which is later.
    now = database_now()
    past, future = now - timedelta(seconds=1), now + timedelta(hours=1)
    template = issue(channel="print").access_code
    copy_codes(template, 40_000, first=1, expires_at=past, sealed="sealed")
    copy_codes(template, 40_000, first=40_001, expires_at=future)
    copy_codes(template, 10_000, first=80_001, expires_at=past, status="redeemed")
    copy_codes(template, 9_999, first=90_001, expires_at=past, status="cancelled")
    assert AccessCode.objects.count() == 100_000

    with django_assert_num_queries(1) as captured:
        assert access_codes_expire() == 40_000
    assert captured.captured_queries[0]["sql"].startswith("UPDATE ")

    counts = dict(AccessCode.objects.values_list("status").annotate(n=Count("id")))
    assert counts == {"expired": 40_000, "active": 40_001, "redeemed": 10_000, "cancelled": 9_999}
    assert not AccessCode.objects.filter(status="expired").exclude(sealed="").exists()
    assert AccessCode.objects.filter(expires_at=future, status="active").count() == 40_000
    # Run again: nothing left to do, still one statement.
    with django_assert_num_queries(1):
        assert access_codes_expire() == 0


def test_expiry_statement_can_use_the_partial_index_on_active_codes(issue):
    copy_codes(issue(channel="print").access_code, 10, first=1, expires_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN UPDATE accesscodes_accesscode SET status = 'expired' "
            "WHERE status = 'active' AND expires_at <= now()"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "accesscode_active_expiry" in plan, plan


# --- the day-3 reminder --------------------------------------------------------------------------
def test_day_three_reminder_goes_once_to_each_unused_emailed_records_code(
    office, practitioner, issue, send_now, patient
):
    start = timezone.now().replace(microsecond=0)
    ben = PatientFactory(office=office, first_name="Ben", email="ben@example.net")
    with time_machine.travel(start, tick=False):
        anna_code = send_now(lambda: issue(channel="email", address=ANNA_EMAIL))
        ben_code = send_now(lambda: issue(patient=ben, channel="email", address="ben@example.net"))
        used = send_now(lambda: issue(channel="email", address="used@example.net"))
        cancelled = send_now(lambda: issue(channel="email", address="gone@example.net"))
        send_now(lambda: issue(channel="sms", address=ANNA_MOBILE))
        send_now(lambda: issue(channel="phone"))
        send_now(lambda: issue(channel="print"))
        send_now(lambda: issue(kind="smart_form", channel="email", address="form@example.net"))
        issue(channel="email", address="never-sent@example.net")  # still queued
    access_code_redeem(typed=used.code, date_of_birth=ANNA_DOB, user=UserFactory())
    access_code_cancel(access_code=cancelled.access_code, actor=practitioner)
    mail.outbox.clear()

    with time_machine.travel(start + timedelta(days=3) - timedelta(minutes=1), tick=False):
        assert access_codes_remind() == 0
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        sent = send_now(access_codes_remind)
        assert sent == 2
        assert sorted(m.to[0] for m in mail.outbox) == ["anna.smith@example.net", "ben@example.net"]
        # Not twice.
        assert send_now(access_codes_remind) == 0
    assert len(mail.outbox) == 2

    to_anna = next(m for m in mail.outbox if m.to == [ANNA_EMAIL])
    assert to_anna.subject.startswith(
        "Reminder: your Medical Records Access Code from Lakeside Clinic expires on "
    )
    assert "Hello Anna," in to_anna.body
    for message in mail.outbox:
        text = message.body + message.alternatives[0][0]
        for code in (anna_code, ben_code):
            assert code.code not in text.lower()
            assert code.link not in text
    assert fresh(anna_code.access_code).reminded_at == start + timedelta(days=3, minutes=1)
    assert "access_code.reminded" in actions(anna_code.access_code)
    assert "access_code.reminded" not in actions(used.access_code)


def test_no_reminder_for_a_code_past_its_expiry(issue, send_now):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send_now(lambda: issue(channel="email", address=ANNA_EMAIL))
    mail.outbox.clear()
    with time_machine.travel(start + timedelta(days=5, seconds=1), tick=False):
        assert send_now(access_codes_remind) == 0
    assert mail.outbox == []


# --- the re-queue sweep ---------------------------------------------------------------------------
def test_requeue_sweep_sends_codes_queued_more_than_five_minutes_ago(issue, practitioner):
    # Issued without running the after-commit publish: their task messages were lost.
    overdue = issue(channel="email", address="overdue@example.net")
    recent = issue(channel="email", address="recent@example.net")
    stuck = issue(channel="email", address="stuck@example.net")
    cancelled = issue(channel="email", address="cancelled@example.net")
    now = timezone.now()
    AccessCode.objects.filter(pk=overdue.access_code.pk).update(
        delivery_due_at=now - timedelta(minutes=5, seconds=1)
    )
    AccessCode.objects.filter(pk=recent.access_code.pk).update(
        delivery_due_at=now - timedelta(minutes=4)
    )
    # A worker died while sending: its lease ran out.
    AccessCode.objects.filter(pk=stuck.access_code.pk).update(
        delivery_state="sending", delivery_due_at=now - timedelta(minutes=11)
    )
    AccessCode.objects.filter(pk=cancelled.access_code.pk).update(
        delivery_due_at=now - timedelta(minutes=30)
    )
    access_code_cancel(access_code=cancelled.access_code, actor=practitioner)

    assert access_codes_requeue() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["overdue@example.net", "stuck@example.net"]
    assert fresh(overdue.access_code).delivery_state == "sent"
    assert fresh(stuck.access_code).delivery_state == "sent"
    assert fresh(recent.access_code).delivery_state == "queued"
    assert fresh(cancelled.access_code).delivery_state == "failed"  # "cancelled before sending"
    assert access_codes_requeue() == 0
    assert len(mail.outbox) == 2
