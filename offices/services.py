"""Office business actions. Each checks its own rules, audits, and queues its side effects."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from offices.models import Membership, Office
from outsmart.audit.services import audit_record
from outsmart.mail import email_queue

OFFICE_FIELDS = ["name", "address", "phone", "time_zone", "require_two_factor"]


class MembershipError(Exception):
    """A removal the rules refuse; the message is meant for the person who tried."""


@dataclass(frozen=True)
class OfficeDetails:
    name: str
    address: str
    phone: str
    time_zone: str
    require_two_factor: bool


@transaction.atomic
def office_update(*, office: Office, details: OfficeDetails, actor, request: HttpRequest) -> Office:
    """Edit the office's details; the first save also completes its setup."""
    office = Office.objects.select_for_update().get(pk=office.pk)
    changed = [f for f in OFFICE_FIELDS if getattr(office, f) != getattr(details, f)]
    for field in OFFICE_FIELDS:
        setattr(office, field, getattr(details, field))
    completing = office.setup_completed_at is None
    if completing:
        office.setup_completed_at = timezone.now()
    office.save()
    audit_record(
        action="office.setup_completed" if completing else "office.updated",
        actor=actor,
        office=office,
        target=office,
        request=request,
        detail={"changed": changed},
    )
    return office


@transaction.atomic
def membership_remove(*, membership: Membership, removed_by, request: HttpRequest) -> Membership:
    """Remove a member from their office (the article's "un-invite"). Their access ends on their
    very next request: every clinic view reads the live membership; and their sessions end on
    the server (they log in again for anything else). Never deletes the row."""
    # Lock every active admin row of the office, so two admins removing each other at the
    # same moment cannot leave the office without one.
    admins = list(
        Membership.objects.select_for_update()
        .filter(office_id=membership.office_id, is_admin=True, removed_at__isnull=True)
        .order_by("pk")
    )
    membership = (
        Membership.objects.select_for_update()
        .select_related("office", "user")
        .get(pk=membership.pk)
    )
    if not membership.is_active:
        raise MembershipError(f"{membership.user} was already removed from this office.")
    if membership.is_admin and len(admins) <= 1:
        raise MembershipError(
            "The last admin of an office cannot be removed. Make someone else an admin first."
        )
    membership.removed_at = timezone.now()
    membership.removed_by = removed_by
    membership.save(update_fields=["removed_at", "removed_by"])
    leaving = membership.user_id == removed_by.pk
    audit_record(
        action="membership.left" if leaving else "membership.removed",
        actor=removed_by,
        office=membership.office,
        target=membership.user,
        request=request,
        detail={"role": membership.role, "was_admin": membership.is_admin},
    )
    if not leaving:
        membership.user.sessions_end()
        email_queue(
            to=[membership.user.email],
            name="membership_removed",
            context={"member": membership.user, "office": membership.office},
        )
    return membership
