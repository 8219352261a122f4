"""Every email that is not an invitation or an access code (which keep their own delivery
state on their rows): two-factor notices, records connected, reminders, "this wasn't me",
review requests, and allauth's password reset and address verification.

The message is written in the same transaction as the action that causes it, so it is sent if
and only if that action commits, even when the broker is down at that moment (a sweep queues
it later). Its content can hold a secret (a password-reset link), so it waits sealed with a
server key and is wiped once delivery ends.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

SEAL_PURPOSE = "outgoing-email"


class OutgoingEmail(models.Model):
    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=64, help_text="Which email: its template name.")
    to = models.JSONField(help_text="Recipient addresses.")
    sealed = models.TextField(
        blank=True, help_text="Subject and parts, encrypted; wiped once sent."
    )
    created_at = models.DateTimeField(default=timezone.now)
    delivery_state = models.CharField(
        max_length=8, choices=Delivery.choices, default=Delivery.QUEUED
    )
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=64, blank=True)
    # Queued: when it is due. Sending: when a worker claimed it (see outsmart.delivery).
    delivery_due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["delivery_state", "delivery_due_at"],
                condition=Q(delivery_state__in=["queued", "sending"]),
                name="outgoing_email_due",
            ),
            models.Index(fields=["created_at"], name="outgoing_email_created"),
        ]

    def __str__(self) -> str:
        return f"{self.name} to {len(self.to)} recipient(s), {self.delivery_state}"
