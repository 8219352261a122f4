"""Sending outgoing emails: one row, one claim, retries with backoff, a sweep for lost ones."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from outsmart import delivery
from outsmart.emails.models import SEAL_PURPOSE, OutgoingEmail
from outsmart.mail import error_kind, is_transient, message_build, message_send
from outsmart.tokens import unseal

logger = logging.getLogger(__name__)

# Delivery records (without their content, wiped at the end) are kept this long, then purged.
KEEP_FOR = timedelta(days=90)


@shared_task(name="emails.send", acks_late=True, ignore_result=True)
def email_send(email_id: int) -> str:
    """Send one queued email, if it is still waiting for it."""
    if not delivery.claim(OutgoingEmail.objects.filter(pk=email_id)):
        return "skipped"
    row = OutgoingEmail.objects.get(pk=email_id)
    mine = OutgoingEmail.objects.filter(pk=email_id, delivery_state=OutgoingEmail.Delivery.SENDING)
    try:
        content = json.loads(unseal(SEAL_PURPOSE, row.sealed))
        goodbye = message_send(message_build(to=row.to, **content))
    except Exception as exc:
        kind = error_kind(exc)
        if delivery.should_retry(row.delivery_attempts, is_transient(exc)):
            countdown = delivery.retry_countdown(row.delivery_attempts)
            mine.update(
                delivery_state=OutgoingEmail.Delivery.QUEUED,
                delivery_error=kind,
                delivery_due_at=timezone.now() + timedelta(seconds=countdown),
            )
            logger.warning("email %s (%s): %s, retry in %ss", email_id, row.name, kind, countdown)
            delivery.publish(email_send, email_id, countdown)
            return "retry"
        mine.update(delivery_state=OutgoingEmail.Delivery.FAILED, delivery_error=kind, sealed="")
        logger.error("email %s (%s): delivery failed for good: %s", email_id, row.name, kind)
        return "failed"
    try:  # "sent" is recorded before the goodbye to the mail server (outsmart.mail.message_send)
        mine.update(
            delivery_state=OutgoingEmail.Delivery.SENT,
            delivery_error="",
            sent_at=timezone.now(),
            sealed="",
        )
    finally:
        goodbye()
    return "sent"


@shared_task(name="emails.requeue", ignore_result=True)
def emails_requeue() -> int:
    """Queue again the emails whose task message was lost (broker down) or whose worker died."""
    return delivery.requeue(OutgoingEmail.objects.all(), email_send)


@shared_task(name="emails.purge", ignore_result=True)
def emails_purge() -> int:
    """Forget delivery records that ended long ago (their content is already wiped)."""
    deleted, _ = OutgoingEmail.objects.filter(
        delivery_state__in=[OutgoingEmail.Delivery.SENT, OutgoingEmail.Delivery.FAILED],
        created_at__lt=timezone.now() - KEEP_FOR,
    ).delete()
    return deleted
