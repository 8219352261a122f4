"""Access-code delivery (email, SMS) and housekeeping, run by the Celery worker and beat.

Delivery is driven by the row, as for invitations: the task carries only the id, claims the row
with one conditional UPDATE, unseals the code, sends, records the outcome, and wipes the sealed
copy once delivery is over. A message lost to a broker outage is made good by the re-queue sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import access_link, sealed_secrets
from outsmart import delivery
from outsmart.audit.services import audit_record
from outsmart.mail import (
    email_queue,
    email_render,
    error_kind,
    is_transient,
    message_build,
    message_send,
    site_url,
)
from outsmart.sms import SmsError, send_sms

logger = logging.getLogger(__name__)

SWEEP_BATCH = delivery.SWEEP_BATCH
REMIND_AFTER = timedelta(days=3)


def _local_date(access_code: AccessCode):
    return access_code.expires_at.astimezone(ZoneInfo(access_code.office.time_zone))


def code_context(access_code: AccessCode, code: str, token: str) -> dict:
    return {
        "access_code": access_code,
        "office": access_code.office,
        "patient": access_code.patient,
        "issuer": access_code.issued_by.get_full_name() or access_code.issued_by.email,
        "form_title": access_code.form_request.title if access_code.form_request_id else "",
        "words": code.split(" "),
        "code": code,
        "link": access_link(token),
        "portal_url": site_url() + "/portal/",
        "expires": _local_date(access_code),
        "medical_records": access_code.is_medical_records,
        "site_url": site_url(),
    }


def access_code_sms_body(access_code: AccessCode, code: str, token: str) -> str:
    office = access_code.office.name[:40]
    expires = _local_date(access_code).strftime("%b %-d")
    what = "your medical records" if access_code.is_medical_records else "a form to fill in"
    return (
        f"{office}: your OutSmart access code for {what} is {code.upper()}. "
        f"Use it now: {access_link(token)} (valid until {expires}). Never share it."
    )


def _send(access_code: AccessCode) -> Callable[[], None]:
    # Dates in the message are the clinic's, whatever the worker's time zone.
    with timezone.override(ZoneInfo(access_code.office.time_zone)):
        return _send_now(access_code)


def _send_now(access_code: AccessCode) -> Callable[[], None]:
    """Send; return what ends the conversation with the mail server, to be called once "sent"
    is recorded (outsmart.mail.message_send)."""
    code, token = sealed_secrets(access_code)
    if access_code.channel == AccessCode.Channel.SMS:
        send_sms(access_code.address, access_code_sms_body(access_code, code, token))
        return lambda: None
    email = message_build(
        to=[access_code.address],
        **email_render("access_code", code_context(access_code, code, token)),
    )
    return message_send(email)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, SmsError):
        return exc.transient
    return is_transient(exc)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, SmsError):
        return exc.kind[:64]
    return error_kind(exc)


def _claim(code_id: int) -> bool:
    return delivery.claim(_deliverable().filter(pk=code_id))


def _deliverable():
    """Codes whose email or SMS is still worth sending: usable, with their sealed secrets."""
    return AccessCode.objects.filter(
        status=AccessCode.Status.ACTIVE, expires_at__gt=timezone.now()
    ).exclude(sealed="")


@shared_task(name="accesscodes.deliver", acks_late=True, ignore_result=True)
def access_code_deliver(code_id: int) -> str:
    """Send one access code by email or SMS, if the row is still waiting for it."""
    if not _claim(code_id):
        return "skipped"
    access_code = AccessCode.objects.select_related(
        "office", "patient", "issued_by", "form_request"
    ).get(pk=code_id)
    rows = AccessCode.objects.filter(pk=code_id, delivery_state=AccessCode.Delivery.SENDING)
    try:
        goodbye = _send(access_code)
    except Exception as exc:
        kind = _kind(exc)
        if delivery.should_retry(access_code.delivery_attempts, _transient(exc)):
            countdown = delivery.retry_countdown(access_code.delivery_attempts)
            rows.update(
                delivery_state=AccessCode.Delivery.QUEUED,
                delivery_error=kind,
                delivery_due_at=timezone.now() + timedelta(seconds=countdown),
            )
            logger.warning("access code %s: %s, retry in %ss", code_id, kind, countdown)
            delivery.publish(access_code_deliver, code_id, countdown)
            return "retry"
        rows.update(delivery_state=AccessCode.Delivery.FAILED, delivery_error=kind, sealed="")
        audit_record(
            action="access_code.delivery_failed",
            office=access_code.office,
            patient=access_code.patient,
            target=access_code,
            detail={"error": kind, "attempts": access_code.delivery_attempts},
        )
        logger.error("access code %s: delivery failed for good: %s", code_id, kind)
        return "failed"
    try:  # "sent" is recorded before the goodbye to the mail server
        rows.update(
            delivery_state=AccessCode.Delivery.SENT,
            delivery_error="",
            sent_at=timezone.now(),
            sealed="",
        )
        audit_record(
            action="access_code.sent",
            office=access_code.office,
            patient=access_code.patient,
            target=access_code,
            detail={"channel": access_code.channel, "attempts": access_code.delivery_attempts},
        )
    finally:
        goodbye()
    return "sent"


@shared_task(name="accesscodes.requeue", ignore_result=True)
def access_codes_requeue() -> int:
    """Queue again every code delivery that is overdue (lost message, dead worker)."""
    return delivery.requeue(_deliverable(), access_code_deliver)


@shared_task(name="accesscodes.expire", ignore_result=True)
def access_codes_expire() -> int:
    """Mark every active code past its expiry as expired: one UPDATE over the partial index on
    active codes' expiry. Redemption never waits for this: it checks the expiry itself.

    Its cost is index maintenance: each expired row gets a new version and an entry in every
    index whose condition it meets, every full index above all (accesscodes migration 0003
    keeps those few: hash indexes for the digests, nullable foreign keys indexed only where
    set). A million codes at once: 16-17 s and 1.3 GB of WAL on the benchmark machine's 2
    cores, down from 37-43 s and 2.9 GB (bench/README.md)."""
    expired = AccessCode.objects.filter(
        status=AccessCode.Status.ACTIVE, expires_at__lte=Now()
    ).update(status=AccessCode.Status.EXPIRED, sealed="")
    if expired:
        logger.info("expired %s access codes", expired)
    return expired


@shared_task(name="accesscodes.remind", ignore_result=True)
def access_codes_remind() -> int:
    """On day 3, remind patients whose emailed medical-records code is still unused: it stops
    working on day 5. The reminder does not repeat the code (a second copy of a secret in a
    mailbox helps nobody); it says where the first email is and what to do if it is lost."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            AccessCode.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("office", "patient")
            .filter(
                status=AccessCode.Status.ACTIVE,
                kind=AccessCode.Kind.MEDICAL_RECORDS,
                channel=AccessCode.Channel.EMAIL,
                delivery_state=AccessCode.Delivery.SENT,
                reminded_at=None,
                issued_at__lte=now - REMIND_AFTER,
                expires_at__gt=now,
            )[:SWEEP_BATCH]
        )
        AccessCode.objects.filter(pk__in=[c.pk for c in due]).update(reminded_at=now)
        for access_code in due:
            with timezone.override(ZoneInfo(access_code.office.time_zone)):
                _remind(access_code)
    return len(due)


def _remind(access_code: AccessCode) -> None:
    email_queue(
        to=[access_code.address],
        name="access_code_reminder",
        context={
            "office": access_code.office,
            "patient": access_code.patient,
            "issued": access_code.issued_at,
            "expires": access_code.expires_at,
        },
    )
    audit_record(
        action="access_code.reminded",
        office=access_code.office,
        patient=access_code.patient,
        target=access_code,
    )
