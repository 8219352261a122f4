"""Invitation emails end to end: a real Celery worker on Redis sends them to a real SMTP server
(aiosmtpd on loopback), through Django's SMTP backend.

What the invitee and the admin would notice: the email arrives once, with a working link, even
when the mail server asks us to try again later; a mail server that keeps refusing ends in
"Email failed" with a Resend button; an invitation made while the broker is down is saved and
its email goes out once the periodic sweep runs; two task messages for one invitation send one
email.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from invitations import services
from invitations.models import Invitation
from invitations.tasks import invitation_send, invitations_requeue
from outsmart.audit.models import AuditEvent
from outsmart.celery import app
from tests.support import CLOSED_PORT_BROKER, reset_broker_connections, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

INVITEE = "new.person@example.com"
LINK = re.compile(r"https?://[^/\s]+/invitations/([A-Za-z0-9_-]+)/(?=\s)")


# --- the SMTP server ---------------------------------------------------------------------------
@dataclass
class Received:
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class SmtpSink:
    """Answers each DATA with the next scripted reply (then `default`), and keeps what it
    accepted. Runs in aiosmtpd's event loop thread, one command at a time."""

    def __init__(self):
        self.script: list[str] = []
        self.default = "250 OK"
        self.delay = 0.0  # seconds spent "delivering" each message
        self.accepted: list[Received] = []
        self.refused: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.script.pop(0) if self.script else self.default
        if reply.startswith("250"):
            message = email.message_from_bytes(
                envelope.original_content or envelope.content, policy=email.policy.default
            )
            self.accepted.append(Received(list(envelope.rcpt_tos), message))
        else:
            self.refused.append(reply)
        return reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_sink(settings):
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    # Read when get_connection() is called, so the worker thread sends here too.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield sink
    controller.stop()


# --- the worker --------------------------------------------------------------------------------
@contextmanager
def worker(pool="solo", concurrency=1, purge=True):
    app.conf.task_always_eager = False
    if purge:
        app.control.purge()  # nothing left over from an earlier test
    try:
        with start_worker(
            app,
            pool=pool,
            concurrency=concurrency,
            perform_ping_check=False,
            shutdown_timeout=10,
        ):
            yield
    finally:
        # Retries scheduled for later go back to the queue when the worker stops.
        app.control.purge()


@contextmanager
def task_results():
    """What each invitation_send run returned ("sent", "retry", "failed", "skipped")."""
    results: list[str] = []

    def collect(sender=None, retval=None, **kwargs):
        if sender is not None and sender.name == invitation_send.name:
            results.append(retval)

    task_postrun.connect(collect, weak=False)
    try:
        yield results
    finally:
        task_postrun.disconnect(collect)


# --- helpers -----------------------------------------------------------------------------------
def invite(office, admin, email_address=INVITEE) -> Invitation:
    # The email is queued when the transaction commits, as in a request.
    with transaction.atomic():
        invitation = services.invitation_create(
            office=office, email=email_address, role="staff", invited_by=admin
        )
    return invitation


def state(invitation: Invitation) -> str:
    invitation.refresh_from_db()
    return invitation.delivery_state


def audit_actions(invitation: Invitation) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="invitations.invitation", target_id=str(invitation.pk)
        )
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


def team_page(client) -> str:
    """The Practitioners and Staff tab, as the logged-in admin sees it."""
    response = client.get(reverse("offices:team"))
    assert response.status_code == 200
    return response.content.decode()


def pending_entry(page: str, invitation: Invitation) -> str:
    """The invitation's <li> in the team page's pending list."""
    resend = reverse("invitations:resend", args=[invitation.pk])
    match = re.search(r"<li>(?:(?!</li>).)*?" + re.escape(resend) + r".*?</li>", page, re.S)
    assert match, f"no pending entry with a Resend form for invitation {invitation.pk}"
    return match.group(0)


# --- the tests ---------------------------------------------------------------------------------
def test_invitation_email_survives_a_transient_smtp_error_and_arrives_once(
    smtp_sink, fast_retries, office, admin, client
):
    smtp_sink.script = ["451 4.3.0 Try again later"]
    with worker():
        invitation = invite(office, admin)
        assert wait_for(lambda: state(invitation) == Invitation.Delivery.SENT)

        assert smtp_sink.refused == ["451 4.3.0 Try again later"]
        assert len(smtp_sink.accepted) == 1
        received = smtp_sink.accepted[0]
        assert received.rcpt_tos == [INVITEE]
        assert received.message["To"] == INVITEE
        assert "Lakeside Clinic" in received.subject
        tokens = LINK.findall(received.text)
        assert len(tokens) == 1 and len(tokens[0]) == 43, received.text
        assert services.invitation_by_token(tokens[0]) == invitation
        assert invitation.delivery_attempts == 2
        assert invitation.sent_at is not None
        assert invitation.delivery_error == ""
        assert audit_actions(invitation).count("invitation.sent") == 1

        # Nothing else is on its way: no second copy turns up.
        time.sleep(1.5)
        assert len(smtp_sink.accepted) == 1
        assert audit_actions(invitation).count("invitation.sent") == 1

    # The link in the email opens the invitation.
    response = client.get(f"/invitations/{tokens[0]}/", follow=True)
    assert response.status_code == 200
    assert "Lakeside Clinic" in response.content.decode()


def test_invitation_fails_after_five_tries_and_shows_resend(
    smtp_sink, fast_retries, office, admin, verified_login
):
    smtp_sink.default = "451 4.3.0 Try again later"
    with worker():
        invitation = invite(office, admin)
        assert wait_for(lambda: state(invitation) == Invitation.Delivery.FAILED)
        time.sleep(1.0)  # no sixth try comes
    invitation.refresh_from_db()
    assert invitation.delivery_state == Invitation.Delivery.FAILED
    assert len(smtp_sink.refused) == 5
    assert smtp_sink.accepted == []
    assert invitation.delivery_attempts == 5
    assert invitation.delivery_error == "mail server answered 451"
    assert invitation.sent_at is None
    assert audit_actions(invitation).count("invitation.failed") == 1
    assert "invitation.sent" not in audit_actions(invitation)

    entry = pending_entry(team_page(verified_login(admin)), invitation)
    assert "Email failed" in entry
    assert "after 5 attempts: mail server answered 451" in entry
    assert f'aria-label="Resend invitation to {INVITEE}"' in entry
    assert ">Resend</button>" in entry


def test_permanent_smtp_error_fails_at_once(smtp_sink, fast_retries, office, admin, verified_login):
    smtp_sink.default = "550 5.1.1 Mailbox unavailable"
    with worker():
        invitation = invite(office, admin)
        assert wait_for(lambda: state(invitation) == Invitation.Delivery.FAILED)
        time.sleep(1.0)  # and no retry follows
    invitation.refresh_from_db()
    assert len(smtp_sink.refused) == 1
    assert invitation.delivery_attempts == 1
    assert invitation.delivery_error == "mail server answered 550"
    assert audit_actions(invitation).count("invitation.failed") == 1

    entry = pending_entry(team_page(verified_login(admin)), invitation)
    assert "Email failed" in entry
    assert "after 1 attempt: mail server answered 550" in entry


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_broker_down_invitation_is_saved_and_sent_by_the_periodic_task_once_the_broker_is_back(
    smtp_sink, office, admin, verified_login
):
    client = verified_login(admin)
    broker_url = app.conf.broker_url
    task_log = logging.getLogger("outsmart.tasks")
    log = ListHandler()
    task_log.addHandler(log)
    app.conf.task_always_eager = False
    app.conf.broker_url = CLOSED_PORT_BROKER
    reset_broker_connections()
    try:
        started = time.monotonic()
        response = client.post(
            reverse("invitations:create", args=["staff"]),
            {"email": INVITEE, "name": "", "message": ""},
        )
        took = time.monotonic() - started
    finally:
        task_log.removeHandler(log)
        app.conf.broker_url = broker_url
        reset_broker_connections()

    assert response.status_code == 302
    assert response.url == reverse("offices:team")
    assert took < 5, f"the request waited {took:.1f} s for the broker"
    assert log.messages == [
        "could not queue invitations.send (OperationalError); the periodic sweep will retry"
    ]
    invitation = Invitation.objects.get(email=INVITEE)
    assert invitation.status == Invitation.Status.PENDING
    assert invitation.delivery_state == Invitation.Delivery.QUEUED
    assert invitation.delivery_attempts == 0
    assert "Email queued" in pending_entry(team_page(client), invitation)

    with worker():
        # The task message was lost: with the broker back, nothing arrives by itself...
        time.sleep(0.5)
        assert smtp_sink.accepted == []
        # ...and the sweep leaves a row alone until it is five minutes overdue.
        assert invitations_requeue() == 0
        Invitation.objects.filter(pk=invitation.pk).update(
            delivery_due_at=timezone.now() - timedelta(minutes=6)
        )
        invitations_requeue.delay()  # as beat would
        assert wait_for(lambda: state(invitation) == Invitation.Delivery.SENT)
        time.sleep(1.0)
        assert len(smtp_sink.accepted) == 1
    assert smtp_sink.accepted[0].rcpt_tos == [INVITEE]
    assert invitation.delivery_attempts == 1
    assert audit_actions(invitation).count("invitation.sent") == 1
    assert "Email sent" in pending_entry(team_page(client), invitation)


def test_two_task_messages_for_one_invitation_send_one_email(smtp_sink, office, admin):
    # Delivery takes a while, so the copies run while the first one is still sending.
    smtp_sink.delay = 0.5
    app.conf.task_always_eager = False
    app.control.purge()
    invitation = invite(office, admin)  # queued, with its task message waiting in Redis
    invitation_send.delay(invitation.pk)  # a duplicate (e.g. the sweep, or a redelivery)
    invitation_send.delay(invitation.pk)
    with task_results() as results, worker(pool="threads", concurrency=3, purge=False):
        assert wait_for(lambda: len(results) == 3)
        time.sleep(0.5)
    assert sorted(results) == ["sent", "skipped", "skipped"]
    assert len(smtp_sink.accepted) == 1
    assert state(invitation) == Invitation.Delivery.SENT
    assert invitation.delivery_attempts == 1
    assert audit_actions(invitation).count("invitation.sent") == 1
