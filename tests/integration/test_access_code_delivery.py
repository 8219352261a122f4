"""Access codes delivered end to end: a real Celery worker on Redis sends the email to a real SMTP
server (aiosmtpd on loopback) and the SMS through the HTTP provider backend to a local fake
provider.

What the patient and the clinic would notice: the message arrives once, with the link and the
code, and the link works; a provider that asks us to try later gets the message on the next try;
one that refuses it ends in "failed". Either way the sealed copy of the code is gone afterwards.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from accesscodes.models import AccessCode
from accesscodes.services import access_code_redeem, code_digest
from accesscodes.words import code_parse
from outsmart.audit.models import AuditEvent
from tests.factories import PatientFactory, UserFactory, issue_code
from tests.integration.test_invitation_delivery import SmtpSink, free_port, wait_for, worker
from tests.test_sms import FakeProvider

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DOB = date(1979, 11, 30)
EMAIL = "maria.garcia@example.com"
MOBILE = "+15145550123"
LINK = re.compile(r"https?://[^/\s]+/a/([A-Za-z0-9_-]{24})/")


@pytest.fixture
def maria(office):
    return PatientFactory(
        office=office, first_name="Maria", last_name="Garcia", date_of_birth=DOB, email=EMAIL
    )


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on loopback (the invitation delivery tests' sink)."""
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


class ScriptedProvider(FakeProvider):
    """Answers each POST with the next scripted status, then `default`."""

    def __init__(self):
        super().__init__()
        self.script: list[int] = []
        self.default = 201

    @property
    def status(self) -> int:
        return self.script.pop(0) if self.script else self.default


@pytest.fixture
def provider(settings):
    server = ScriptedProvider()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Read when the worker sends, so the worker thread posts here too.
    settings.SMS_BACKEND = "outsmart.sms.HttpBackend"
    settings.SMS_URL = server.url()
    settings.SMS_TIMEOUT = 5
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def issue(patient, practitioner, **kwargs):
    # Queued for the worker when the transaction commits, as in a request.
    with transaction.atomic():
        return issue_code(patient=patient, actor=practitioner, **kwargs)


def state(access_code: AccessCode) -> str:
    access_code.refresh_from_db()
    return access_code.delivery_state


def audit_actions(access_code: AccessCode) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            target_type="accesscodes.accesscode", target_id=str(access_code.pk)
        )
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    )


def sms_bodies(provider: ScriptedProvider) -> list[dict]:
    return [json.loads(request["body"]) for request in provider.requests]


# --- email ---------------------------------------------------------------------------------------
def test_emailed_code_arrives_with_the_link_and_the_code_and_the_sealed_copy_is_wiped(
    smtp_sink, maria, practitioner
):
    with worker():
        issued = issue(maria, practitioner, channel="email", address=EMAIL)
        row = issued.access_code
        assert row.sealed  # waiting for the worker
        assert wait_for(lambda: state(row) == AccessCode.Delivery.SENT)
        time.sleep(1.0)  # no second copy follows
    assert len(smtp_sink.accepted) == 1
    received = smtp_sink.accepted[0]
    assert received.rcpt_tos == [EMAIL]
    assert received.subject == "Your Medical Records Access Link from Lakeside Clinic"
    text = received.text
    assert LINK.findall(text) == [issued.link.rstrip("/").rsplit("/", 1)[1]]
    assert issued.code.upper() in text
    # The code as printed in the email reads back as this code.
    printed = next(line for line in text.splitlines() if line.strip() == issued.code.upper())
    assert code_digest(code_parse(printed).text) == row.code_digest

    row.refresh_from_db()
    assert (row.delivery_state, row.sealed, row.delivery_attempts) == ("sent", "", 1)
    assert row.sent_at is not None
    assert audit_actions(row) == ["access_code.issued", "access_code.sent"]

    # The link in the email opens the records, with the date of birth.
    token = LINK.findall(text)[0]
    redemption = access_code_redeem(token=token, date_of_birth=DOB, user=UserFactory())
    assert redemption.access_code == row and redemption.grant.granted_via == "link"


def test_emailed_code_survives_a_transient_smtp_error_and_arrives_once(
    smtp_sink, fast_retries, maria, practitioner
):
    smtp_sink.script = ["451 4.3.0 Try again later"]
    with worker():
        issued = issue(maria, practitioner, channel="email", address=EMAIL)
        assert wait_for(lambda: state(issued.access_code) == AccessCode.Delivery.SENT)
        time.sleep(1.0)
    assert smtp_sink.refused == ["451 4.3.0 Try again later"]
    assert len(smtp_sink.accepted) == 1
    row = issued.access_code
    row.refresh_from_db()
    assert (row.delivery_attempts, row.delivery_error, row.sealed) == (2, "", "")
    assert audit_actions(row).count("access_code.sent") == 1


# --- SMS ---------------------------------------------------------------------------------------
def test_sms_arrives_once_with_the_code_and_a_short_link(provider, maria, practitioner):
    with worker():
        issued = issue(maria, practitioner, channel="sms", address="(514) 555-0123")
        assert wait_for(lambda: state(issued.access_code) == AccessCode.Delivery.SENT)
        time.sleep(1.0)
    [message] = sms_bodies(provider)
    assert message["to"] == MOBILE
    body = message["body"]
    assert issued.code.upper() in body
    [token] = LINK.findall(body)
    assert issued.link in body and len(issued.link) < 60
    assert len(body) < 320  # two SMS segments at most
    row = issued.access_code
    row.refresh_from_db()
    assert (row.delivery_state, row.sealed, row.delivery_attempts) == ("sent", "", 1)
    assert audit_actions(row) == ["access_code.issued", "access_code.sent"]
    assert access_code_redeem(token=token, date_of_birth=DOB, user=UserFactory()).grant


def test_sms_provider_answering_503_then_201_gets_the_message_once(
    provider, fast_retries, maria, practitioner
):
    provider.script = [503]
    with worker():
        issued = issue(maria, practitioner, channel="sms", address=MOBILE)
        assert wait_for(lambda: state(issued.access_code) == AccessCode.Delivery.SENT)
        time.sleep(1.5)  # nothing more is on its way
    first, second = sms_bodies(provider)
    assert first == second  # the same message, tried again
    assert issued.code.upper() in second["body"]
    row = issued.access_code
    row.refresh_from_db()
    assert (row.delivery_state, row.delivery_attempts, row.delivery_error, row.sealed) == (
        "sent",
        2,
        "",
        "",
    )
    assert audit_actions(row).count("access_code.sent") == 1


def test_sms_provider_answering_400_fails_for_good_and_wipes_the_sealed_code(
    provider, fast_retries, maria, practitioner
):
    provider.default = 400
    with worker():
        issued = issue(maria, practitioner, channel="sms", address=MOBILE)
        assert wait_for(lambda: state(issued.access_code) == AccessCode.Delivery.FAILED)
        time.sleep(1.0)  # and no retry follows
    assert len(provider.requests) == 1
    row = issued.access_code
    row.refresh_from_db()
    assert (row.delivery_state, row.delivery_attempts, row.delivery_error, row.sealed) == (
        "failed",
        1,
        "SMS provider answered 400",
        "",
    )
    assert audit_actions(row) == ["access_code.issued", "access_code.delivery_failed"]
    # The failure is the delivery's, not the code's: the clinic can still read it out.
    assert row.status == "active"
