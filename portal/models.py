"""What a portal account may see: grants made by redeeming access codes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PortalAccessQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at=None)


class PortalAccess(models.Model):
    """`user` may see `patient`'s medical records (kind medical_records), or fill one Smart Form
    sent to that patient (kind smart_form). Made only by redeeming an access code; revocable by
    the account holder and by the clinic. Every portal view checks it on every request."""

    class Kind(models.TextChoices):
        MEDICAL_RECORDS = "medical_records", "Medical records"
        SMART_FORM = "smart_form", "Smart Form"

    class Via(models.TextChoices):
        CODE = "code", "Access code"
        LINK = "link", "Access link"
        REGISTRATION = "registration", "Access code at registration"

    class RevokeReason(models.TextChoices):
        REMOVED = "removed", "Removed by the account holder"
        NOT_ME = "not_me", "Reported as “This wasn't me”"
        CLINIC = "clinic", "Cancelled by the clinic"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_accesses"
    )
    patient = models.ForeignKey(
        "records.Patient", on_delete=models.PROTECT, related_name="portal_accesses"
    )
    form_request = models.ForeignKey(
        "records.FormRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="portal_accesses",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    access_code = models.ForeignKey(
        "accesscodes.AccessCode", on_delete=models.PROTECT, related_name="grants"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    granted_via = models.CharField(max_length=16, choices=Via.choices)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.CharField(max_length=16, choices=RevokeReason.choices, blank=True)

    objects = PortalAccessQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "patient"],
                condition=Q(kind="medical_records", revoked_at=None),
                name="portalaccess_one_records_grant",
            ),
            models.UniqueConstraint(
                fields=["user", "form_request"],
                condition=Q(kind="smart_form", revoked_at=None),
                name="portalaccess_one_form_grant",
            ),
            models.CheckConstraint(
                condition=Q(kind="smart_form", form_request__isnull=False)
                | Q(kind="medical_records", form_request__isnull=True),
                name="portalaccess_smart_form_has_request",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "kind"], condition=Q(revoked_at=None), name="portalaccess_active"
            ),
            models.Index(fields=["patient"], name="portalaccess_patient"),
        ]

    def __str__(self) -> str:
        return f"Portal access of user {self.user_id} to patient {self.patient_id} ({self.kind})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
