from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import Q


def time_zone_choices() -> list[tuple[str, str]]:
    return [
        (name, name.replace("_", " "))
        for name in sorted(zoneinfo.available_timezones())
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    ]


class Office(models.Model):
    """A clinic. Invitations can be sent only once its setup is complete."""

    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, default="America/Toronto")
    require_two_factor = models.BooleanField(
        default=True,
        help_text="Members must use two-factor authentication to reach this office's data.",
    )
    setup_completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_set_up(self) -> bool:
        return self.setup_completed_at is not None


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    STAFF = "staff", "Staff"


class MembershipQuerySet(models.QuerySet):
    def active(self):
        return self.filter(removed_at__isnull=True)


class Membership(models.Model):
    """A person's place in an office. Never deleted: removal keeps who removed whom and when."""

    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    is_admin = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["office", "user"],
                condition=Q(removed_at__isnull=True),
                name="membership_one_active_per_office",
            ),
        ]
        indexes = [models.Index(fields=["user", "removed_at"], name="membership_user_active")]

    def __str__(self) -> str:
        return f"{self.user} in {self.office} ({self.get_role_display()})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None
