from __future__ import annotations

from django.db.models import Q, QuerySet

from offices.models import Membership, Office, Role
from outsmart.paging import Slice, slices_by_group


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


TEAM_PAGE_SIZE = 25
MEMBER_ORDER = ("-is_admin", "user__last_name", "user__first_name", "user__email", "pk")


def office_team(
    office: Office, *, search: str = "", page: int = 1, per_page: int = TEAM_PAGE_SIZE
) -> dict[str, Slice]:
    """Page `page` of the office's active members by role, with each role's total, in one
    query whatever the office's size. `search`: every word of it is part of the person's first
    name, last name or email ("ann smi" finds Anna Smith), in any case."""
    members = Membership.objects.active().filter(office=office).select_related("user")
    for term in search.split():
        members = members.filter(
            Q(user__first_name__icontains=term)
            | Q(user__last_name__icontains=term)
            | Q(user__email__icontains=term)
        )
    return slices_by_group(
        members,
        group="role",
        groups=Role.values,
        order_by=MEMBER_ORDER,
        page=page,
        per_page=per_page,
    )
