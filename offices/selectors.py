from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from offices.models import Membership, Office, Role


def user_offices_requiring_two_factor(user) -> QuerySet[Office]:
    return Office.objects.filter(
        memberships__user=user, memberships__removed_at__isnull=True, require_two_factor=True
    )


def user_active_memberships(user) -> list[Membership]:
    """The person's live memberships with their offices, in header order. One query."""
    return list(
        Membership.objects.active()
        .filter(user=user)
        .select_related("office")
        .order_by("office__name", "office_id")
    )


@dataclass
class TeamColumn:
    role: str
    title: str
    members: list[Membership] = field(default_factory=list)


def office_team(office: Office) -> dict[str, TeamColumn]:
    """The active members of an office in their two columns, in one query."""
    columns = {
        Role.PRACTITIONER: TeamColumn(Role.PRACTITIONER, "Practitioners"),
        Role.STAFF: TeamColumn(Role.STAFF, "Staff"),
    }
    members = (
        Membership.objects.active()
        .filter(office=office)
        .select_related("user")
        .order_by("-is_admin", "user__last_name", "user__first_name", "user__email")
    )
    for membership in members:
        columns[membership.role].members.append(membership)
    return columns
