from __future__ import annotations

from invitations.models import Invitation
from offices.models import Office, Role


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


def office_pending_invitations(office: Office) -> dict[str, list[Invitation]]:
    """The office's pending invitations by role (expired ones not yet swept included, marked
    by `is_expired`), for the Practitioners and Staff tab. One query."""
    columns: dict[str, list[Invitation]] = {Role.PRACTITIONER: [], Role.STAFF: []}
    rows = (
        Invitation.objects.filter(office=office, status=Invitation.Status.PENDING)
        .select_related("invited_by")
        .order_by("-created_at")
    )
    for invitation in rows:
        columns[invitation.role].append(invitation)
    return columns
