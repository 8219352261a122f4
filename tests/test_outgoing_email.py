"""Every other email (two-factor notices, records connected, reminders, password reset...) is
written in the transaction of the action that causes it and sent by a worker: nothing is lost
when the broker is down, nothing is sent twice, and no secret waits in plain text in the
database or travels through the broker."""

from __future__ import annotations

import json
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from outsmart import delivery
from outsmart.celery import app
from outsmart.emails.models import OutgoingEmail
from outsmart.emails.tasks import emails_purge, emails_requeue
from outsmart.mail import email_queue
from outsmart.tokens import seal
from tests.support import CLOSED_PORT_BROKER, reset_broker_connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """Every task queued (eagerly run here), as (task name, args, kwargs): what would travel
    through the broker."""
    from celery.app.task import Task

    seen = []
    original = Task.apply_async

    def record(task, args=None, kwargs=None, **options):
        seen.append((task.name, list(args or ()), dict(kwargs or {})))
        return original(task, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", record)
    return seen


def test_password_reset_email_is_sent_once_and_its_key_never_rests_in_plain_text(
    client, patient, mailoutbox, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("account_reset_password"), {"email": patient.email})
    row = OutgoingEmail.objects.get()
    assert row.name == "password_reset_key" and row.to == [patient.email]
    assert row.delivery_state == "queued" and row.sealed
    # Nothing readable in the row while it waits: the content is sealed.
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM emails_outgoingemail e")
        stored = cursor.fetchone()[0]
    assert "password/reset/key" not in stored and "Password Reset" not in stored
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    link = next(w for w in mailoutbox[0].body.split() if "/password/reset/key/" in w)
    key = link.rstrip("/").rsplit("/", 1)[-1]
    row.refresh_from_db()
    assert row.delivery_state == "sent" and row.sent_at and row.sealed == ""
    # The broker carried the row's id only.
    assert published == [("emails.send", [row.pk], {})]
    assert key not in json.dumps(published)


def test_an_email_of_a_rolled_back_action_is_never_sent(patient, mailoutbox):
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        email_queue(to=[patient.email], name="two_factor_enabled", context={"user": patient})
        raise Rollback
    assert not OutgoingEmail.objects.exists()
    assert mailoutbox == []


def test_broker_down_at_publish_then_the_sweep_sends_it_exactly_once(
    patient, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    broker_url = app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = CLOSED_PORT_BROKER
    reset_broker_connections()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            email_queue(to=[patient.email], name="two_factor_enabled", context={"user": patient})
    finally:
        app.conf.broker_url = broker_url
        app.conf.task_always_eager = True
        reset_broker_connections()
    row = OutgoingEmail.objects.get()
    assert row.delivery_state == "queued" and mailoutbox == []
    assert "not queued; the sweep will" in caplog.text
    # The sweep leaves it alone until it is overdue, then sends it; a second sweep sends nothing.
    assert emails_requeue() == 0
    with time_machine.travel(timezone.now() + delivery.REQUEUE_AFTER + timedelta(seconds=1)):
        assert emails_requeue() == 1
        assert emails_requeue() == 0
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [patient.email]
    row.refresh_from_db()
    assert row.delivery_state == "sent"


def test_a_worker_that_died_while_sending_is_replaced_after_the_lease(patient, mailoutbox):
    with transaction.atomic():
        row = OutgoingEmail.objects.create(name="x", to=[patient.email], sealed="")
    # A worker claimed it and died before reporting back.
    assert delivery.claim(OutgoingEmail.objects.filter(pk=row.pk))
    OutgoingEmail.objects.filter(pk=row.pk).update(
        sealed=seal("outgoing-email", json.dumps({"subject": "Hello", "text": "Hi\n", "html": ""}))
    )
    assert emails_requeue() == 0  # still within the lease
    with time_machine.travel(timezone.now() + delivery.SENDING_LEASE + timedelta(seconds=1)):
        assert emails_requeue() == 1
    assert [m.subject for m in mailoutbox] == ["Hello"]
    row.refresh_from_db()
    assert row.delivery_state == "sent" and row.delivery_attempts == 2


@pytest.mark.parametrize(
    ("error", "state", "attempts"),
    [
        (smtplib.SMTPResponseException(451, b"try later"), "failed", 5),
        (smtplib.SMTPResponseException(550, b"no such user"), "failed", 1),
        (smtplib.SMTPNotSupportedError("STARTTLS"), "failed", 1),
    ],
)
def test_transient_errors_are_retried_five_times_permanent_ones_fail_at_once(
    patient, monkeypatch, error, state, attempts, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("outsmart.delivery.RETRY_BACKOFF", 0)
    monkeypatch.setattr("outsmart.delivery.RETRY_BACKOFF_MAX", 0)
    tries = []

    def refuse(self, *args, **kwargs):
        tries.append(1)
        raise error

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        email_queue(to=[patient.email], name="two_factor_enabled", context={"user": patient})
    row = OutgoingEmail.objects.get()
    assert (row.delivery_state, row.delivery_attempts, len(tries)) == (state, attempts, attempts)
    assert row.sealed == ""  # delivery ended: the content is gone
    assert row.delivery_error


def test_old_delivery_records_are_purged_and_waiting_ones_kept(patient):
    old = timezone.now() - timedelta(days=91)
    OutgoingEmail.objects.create(name="a", to=[], delivery_state="sent", created_at=old)
    OutgoingEmail.objects.create(name="b", to=[], delivery_state="failed", created_at=old)
    OutgoingEmail.objects.create(name="c", to=[], delivery_state="queued", created_at=old)
    OutgoingEmail.objects.create(name="d", to=[], delivery_state="sent")
    assert emails_purge() == 2
    assert sorted(OutgoingEmail.objects.values_list("name", flat=True)) == ["c", "d"]
