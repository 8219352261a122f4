from __future__ import annotations

from django.db.models import Q

from invitations.models import Invitation
from offices.models import Office, Role
from offices.selectors import TEAM_PAGE_SIZE
from outsmart.paging import Slice, slices_by_group


def user_pending_invitations(user, limit: int = 20) -> list[Invitation]:
    """Open invitations to any verified address of `user`, newest first. One query."""
    if not user.is_authenticated:
        return []
    return list(
        Invitation.objects.pending()
        .for_emails_of(user)
        .select_related("office", "invited_by")
        .order_by("-created_at")[:limit]
    )


def office_pending_invitations(
    office: Office, *, search: str = "", page: int = 1, per_page: int = TEAM_PAGE_SIZE
) -> dict[str, Slice]:
    """Page `page` of the office's pending invitations by role, newest first, with each role's
    total (expired ones not yet swept included, marked by `is_expired`), for the Practitioners
    and Staff tab. `search`: every word of it is part of the invitee's name or email. One
    query, whatever the number of invitations."""
    rows = Invitation.objects.filter(office=office, status=Invitation.Status.PENDING)
    for term in search.split():
        rows = rows.filter(Q(name__icontains=term) | Q(email__icontains=term))
    return slices_by_group(
        rows.select_related("invited_by"),
        group="role",
        groups=Role.values,
        order_by=("-created_at", "-pk"),
        page=page,
        per_page=per_page,
    )
