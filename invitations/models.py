from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from offices.models import Role
from outsmart.tokens import derived_token, keyed_digest

INVITATION_LIFETIME = timedelta(days=14)
TOKEN_PURPOSE = "invitation"  # noqa: S105 - a label for key derivation, not a secret


def token_digest(token: str) -> str:
    return keyed_digest(TOKEN_PURPOSE, token)


class InvitationQuerySet(models.QuerySet):
    def pending(self, now=None):
        """Pending and not past their expiry (the expiry task may not have run yet)."""
        return self.filter(status=Invitation.Status.PENDING, expires_at__gt=now or timezone.now())

    def for_emails_of(self, user):
        """Invitations addressed to any verified email address of `user`, case-insensitively."""
        from allauth.account.models import EmailAddress

        verified = (
            EmailAddress.objects.filter(user=user, verified=True)
            .annotate(address=Lower("email"))
            .values("address")
        )
        return self.alias(address=Lower("email")).filter(address__in=verified)


class Invitation(models.Model):
    """An office's offer of a place to whoever controls `email`.

    The link token is never stored: it is an HMAC of `token_nonce` under a server secret (see
    outsmart.tokens), and `token_digest` is its keyed hash for lookup. Resend draws a new nonce,
    so the old link stops working.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150, blank=True)
    message = models.TextField(max_length=1000, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    is_admin = models.BooleanField(default=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when OutSmart invited an office's first admin (createoffice).",
    )

    token_nonce = models.CharField(max_length=32)
    token_digest = models.CharField(max_length=64, unique=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who approved or declined it, or the admin who revoked it.",
    )

    delivery_state = models.CharField(
        max_length=16, choices=Delivery.choices, default=Delivery.QUEUED
    )
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=64, blank=True)
    # Queued: when it became due; sending: when a worker claimed it. The sweep re-queues rows
    # whose due time is long past (a lost task message, a worker killed mid-send).
    delivery_due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "office",
                Lower("email"),
                condition=Q(status="pending"),
                name="invitation_one_pending_per_office_email",
            ),
        ]
        indexes = [
            models.Index(
                fields=["delivery_state", "delivery_due_at"],
                condition=Q(delivery_state__in=["queued", "sending"]),
                name="invitation_delivery_due",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending"),
                name="invitation_pending_expiry",
            ),
            models.Index(Lower("email"), name="invitation_email_lower"),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.office_id} ({self.role})"

    @property
    def token(self) -> str:
        return derived_token(TOKEN_PURPOSE, self.token_nonce)

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (
            self.status == self.Status.PENDING and self.expires_at <= timezone.now()
        )

    @property
    def effective_status(self) -> str:
        return self.Status.EXPIRED if self.is_expired else self.status

    @property
    def is_open(self) -> bool:
        return self.effective_status == self.Status.PENDING

    @property
    def role_label(self) -> str:
        label = self.get_role_display().lower()
        return f"{label} and office admin" if self.is_admin else label

    @property
    def inviter_name(self) -> str:
        if self.invited_by is None:
            return "OutSmart Support"
        return self.invited_by.get_full_name() or self.invited_by.email


class ReviewRequest(models.Model):
    """An invitee whose invited address is already used by another account asks OutSmart
    Support to review the invitation (the article's "request a review")."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        RESENT_TO_OTHER_ADDRESS = "resent_other", "Invitation re-sent to another address"
        RESENT_SAME_ADDRESS = "resent_same", "Invitation re-sent to the same address"
        NO_ACTION = "no_action", "Closed without action"

    invitation = models.ForeignKey(
        Invitation, on_delete=models.PROTECT, related_name="review_requests"
    )
    contact_email = models.EmailField(max_length=254)
    note = models.TextField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(max_length=1000, blank=True)

    class Meta:
        ordering = ["status", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["invitation"],
                condition=Q(status="open"),
                name="review_one_open_per_invitation",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of invitation {self.invitation_id} ({self.get_status_display()})"
