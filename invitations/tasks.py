"""Invitation email delivery and housekeeping, run by the Celery worker and beat.

Delivery is driven by the row, not by the task message: the task only carries the id, claims
the row with one conditional UPDATE before it sends (so two messages for one send request
cannot both send), rebuilds the link from the row, and records the outcome on the row. A
message lost to a broker outage or a killed worker is made good by `invitations_requeue`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from invitations.models import Invitation
from outsmart import delivery
from outsmart.audit.models import AuditEvent
from outsmart.audit.services import audit_record
from outsmart.logging import current_request_id
from outsmart.mail import (
    email_render,
    error_kind,
    is_transient,
    message_build,
    message_send,
    site_url,
)

logger = logging.getLogger(__name__)

SWEEP_BATCH = delivery.SWEEP_BATCH


def invitation_link(invitation: Invitation) -> str:
    from django.urls import reverse

    return site_url() + reverse("invitee:landing", args=[invitation.token])


def invitation_email(invitation: Invitation) -> dict:
    office = invitation.office
    # A date, not a datetime: the template's date filter would show it in UTC.
    expires = invitation.expires_at.astimezone(ZoneInfo(office.time_zone)).date()
    return email_render(
        "invitation",
        {
            "invitation": invitation,
            "office": office,
            "inviter": invitation.inviter_name,
            "role": invitation.role_label,
            "link": invitation_link(invitation),
            "expires": expires,
            "site_url": site_url(),
        },
    )


def _claim(invitation_id: int) -> bool:
    return delivery.claim(
        Invitation.objects.filter(
            pk=invitation_id, status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
        )
    )


@shared_task(name="invitations.send", acks_late=True, ignore_result=True)
def invitation_send(invitation_id: int) -> str:
    """Send one invitation email, if the row is still waiting for it."""
    if not _claim(invitation_id):
        return "skipped"
    invitation = Invitation.objects.select_related("office", "invited_by").get(pk=invitation_id)
    # Only the claim this task made: a Resend meanwhile resets the row (new nonce), and then
    # the outcome of this superseded send must not be recorded over the new one.
    rows = Invitation.objects.filter(
        pk=invitation_id,
        delivery_state=Invitation.Delivery.SENDING,
        token_nonce=invitation.token_nonce,
    )
    try:
        # Built inside the try: a template or data error fails the row instead of leaving it
        # "sending" for the sweep to claim again forever.
        email = message_build(to=[invitation.email], **invitation_email(invitation))
        goodbye = message_send(email)
    except Exception as exc:
        kind = error_kind(exc)
        if delivery.should_retry(invitation.delivery_attempts, is_transient(exc)):
            countdown = delivery.retry_countdown(invitation.delivery_attempts)
            if not rows.update(
                delivery_state=Invitation.Delivery.QUEUED,
                delivery_error=kind,
                delivery_due_at=timezone.now() + timedelta(seconds=countdown),
            ):
                return "superseded"
            logger.warning("invitation %s: %s, retry in %ss", invitation_id, kind, countdown)
            delivery.publish(invitation_send, invitation_id, countdown)
            return "retry"
        if not rows.update(delivery_state=Invitation.Delivery.FAILED, delivery_error=kind):
            return "superseded"
        audit_record(
            action="invitation.failed",
            office=invitation.office,
            target=invitation,
            detail={"error": kind, "attempts": invitation.delivery_attempts},
        )
        logger.error("invitation %s: delivery failed for good: %s", invitation_id, kind)
        return "failed"
    try:  # "sent" is recorded before the goodbye to the mail server (outsmart.mail.message_send)
        if not rows.update(
            delivery_state=Invitation.Delivery.SENT, delivery_error="", sent_at=timezone.now()
        ):
            return "superseded"
        audit_record(
            action="invitation.sent",
            office=invitation.office,
            target=invitation,
            detail={"attempts": invitation.delivery_attempts},
        )
    finally:
        goodbye()
    return "sent"


@shared_task(name="invitations.requeue", ignore_result=True)
def invitations_requeue() -> int:
    """Queue again every invitation email that is overdue: left "queued" for more than five
    minutes (its message was lost, e.g. the broker was down) or "sending" past the lease."""
    return delivery.requeue(
        Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__gt=timezone.now()),
        invitation_send,
    )


@shared_task(name="invitations.expire", ignore_result=True)
def invitations_expire() -> int:
    """Mark pending invitations past their 14 days as expired, with an audit event each."""
    now = timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .filter(status=Invitation.Status.PENDING, expires_at__lte=now)
                .values_list("pk", "office_id", "email")[:SWEEP_BATCH]
            )
            if not batch:
                return total
            Invitation.objects.filter(pk__in=[pk for pk, _, _ in batch]).update(
                status=Invitation.Status.EXPIRED
            )
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    action="invitation.expired",
                    office_id=office_id,
                    target_type=Invitation._meta.label_lower,
                    target_id=str(pk),
                    target_repr=f"Invitation of {email} to {office_id}",
                    request_id=(current_request_id() or "")[:64],
                    detail={"email": email},
                )
                for pk, office_id, email in batch
            )
        total += len(batch)
