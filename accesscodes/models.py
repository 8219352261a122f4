"""Access codes and access links: what a practitioner gives a patient to open the portal.

Neither the four words nor the link token are stored. The table keeps their keyed hashes
(HMAC-SHA256 under ACCESS_CODE_SECRET, which is not in the database) for lookup. While an email
or SMS is still to be sent, the worker needs the plain values: they wait in `sealed`, encrypted
under a key derived from the same secret, and are wiped as soon as delivery ends (sent, failed
for good) or the code stops being usable.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.indexes import HashIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone

MEDICAL_RECORDS_LIFETIME = timedelta(days=5)
SMART_FORM_LIFETIME = timedelta(days=60)
CODE_PURPOSE = "access-code"
LINK_PURPOSE = "access-link"
# Wrong dates of birth tried with one code before the code is locked: the code alone is not
# enough to open records, and this keeps anyone holding it from walking through birthdays.
DOB_FAILURES_BEFORE_LOCK = 10


class AccessCodeQuerySet(models.QuerySet):
    def usable(self, now=None):
        return self.filter(status=AccessCode.Status.ACTIVE, expires_at__gt=now or timezone.now())


class AccessCode(models.Model):
    """One code (and its access link) given to one patient: to their medical records, or to one
    Smart Form sent to them (FormRequest)."""

    class Kind(models.TextChoices):
        MEDICAL_RECORDS = "medical_records", "Medical Records Access Code"
        SMART_FORM = "smart_form", "Smart Form access link"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REDEEMED = "redeemed", "Redeemed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        PHONE = "phone", "Phone"
        PRINT = "print", "Printed slip"

    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        HANDED = "handed", "Given by the clinic"  # phone and printed slip: shown to the issuer

    class CancelReason(models.TextChoices):
        CANCELLED = "cancelled", "Cancelled by the clinic"
        REISSUED = "reissued", "Replaced by a new code"
        LOCKED = "locked", "Locked after wrong dates of birth"

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="access_codes"
    )
    # No index of its own: accesscode_patient (patient, -issued_at) serves every lookup by it.
    patient = models.ForeignKey(
        "records.Patient", on_delete=models.PROTECT, related_name="access_codes", db_index=False
    )
    # The nullable foreign keys are indexed in Meta, only where set: see the indexes there.
    form_request = models.ForeignKey(
        "records.FormRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_codes",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)

    # Indexed in Meta, not with db_index/unique: on PostgreSQL those add a second, LIKE-only
    # index of every digest, which nothing queries and every write (the expiry of a million
    # codes above all) must update too (bench/README.md). Hash indexes: lookups are by
    # equality only, and a hash index entry is a 4-byte hash, not the 64-character digest.
    code_digest = models.CharField(max_length=64)
    link_digest = models.CharField(max_length=64)
    sealed = models.TextField(blank=True, help_text="Encrypted code and link, only until sent.")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The issue form's one-time key: a repeated POST (double click, reload) finds this row
    # instead of issuing a second code.
    issue_key = models.CharField(max_length=32, blank=True)
    # One-to-one (accesscode_replaces_unique), as a foreign key: a OneToOneField's unique
    # index would hold every row's NULL. The property `replaced_by` reads it the other way.
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254, blank=True, help_text="Email or mobile number.")
    delivery_state = models.CharField(max_length=8, choices=Delivery.choices)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_error = models.CharField(max_length=64, blank=True)
    delivery_due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    cancel_reason = models.CharField(max_length=16, choices=CancelReason.choices, blank=True)
    dob_failures = models.PositiveSmallIntegerField(default=0)

    objects = AccessCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            # Two usable codes with the same words would make redemption ambiguous.
            models.UniqueConstraint(
                fields=["code_digest"],
                condition=Q(status="active"),
                name="accesscode_active_code_unique",
            ),
            # Two usable links with the same token would be as ambiguous. Retired rows are left
            # out: two never share a 144-bit token, and the expiry would fill a full index.
            models.UniqueConstraint(
                fields=["link_digest"],
                condition=Q(status="active"),
                name="accesscode_active_link_unique",
            ),
            # A code is replaced at most once (see `replaces`).
            models.UniqueConstraint(
                fields=["replaces"],
                condition=Q(replaces__isnull=False),
                name="accesscode_replaces_unique",
            ),
            models.UniqueConstraint(
                fields=["issued_by", "issue_key"],
                condition=~Q(issue_key=""),
                name="accesscode_issue_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="smart_form", form_request__isnull=False)
                | Q(kind="medical_records", form_request__isnull=True),
                name="accesscode_smart_form_has_request",
            ),
        ]
        # Expiring a code writes a new version of its row and an entry into every index whose
        # condition the new version meets (status is in the conditions: no HOT update), and
        # the expiry job may meet a million codes at once (bench/README.md). Hence hash
        # indexes for the digests, and the nullable foreign keys indexed only where set.
        indexes = [
            # Redemption finds a code by the keyed hash of what was typed or of the link's
            # token, whatever its status.
            HashIndex(fields=["code_digest"], name="accesscode_code_digest_hash"),
            HashIndex(fields=["link_digest"], name="accesscode_link_digest_hash"),
            models.Index(fields=["patient", "-issued_at"], name="accesscode_patient"),
            # The expiry job's one UPDATE walks only active rows, by expiry.
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="accesscode_active_expiry"
            ),
            models.Index(
                fields=["delivery_state", "delivery_due_at"],
                condition=Q(delivery_state__in=["queued", "sending"]),
                name="accesscode_delivery_due",
            ),
            models.Index(
                fields=["issued_at"],
                condition=Q(
                    status="active", kind="medical_records", channel="email", reminded_at=None
                ),
                name="accesscode_reminder_due",
            ),
            # Protected deletes of users and Smart Form requests, and the form's codes when it
            # is submitted, look codes up by these.
            models.Index(
                fields=["form_request"],
                condition=Q(form_request__isnull=False),
                name="accesscode_form_request",
            ),
            models.Index(
                fields=["redeemed_by"],
                condition=Q(redeemed_by__isnull=False),
                name="accesscode_redeemed_by",
            ),
            models.Index(
                fields=["cancelled_by"],
                condition=Q(cancelled_by__isnull=False),
                name="accesscode_cancelled_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} for patient {self.patient_id}"

    @property
    def replaced_by(self) -> AccessCode | None:
        """The code issued in this one's place, if any (there is at most one). One query per
        call: lists read the `is_replaced` annotation instead (selectors)."""
        return AccessCode.objects.filter(replaces=self).first() if self.pk else None

    @property
    def is_medical_records(self) -> bool:
        return self.kind == self.Kind.MEDICAL_RECORDS

    @property
    def effective_status(self) -> str:
        if self.status == self.Status.ACTIVE and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.status

    @property
    def is_usable(self) -> bool:
        return self.effective_status == self.Status.ACTIVE

    @property
    def delivery_pending(self) -> bool:
        return self.delivery_state in (self.Delivery.QUEUED, self.Delivery.SENDING)
