"""Invitation business actions. Each locks what it changes, checks its own rules, writes its
audit event and queues its email after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from invitations.models import INVITATION_LIFETIME, Invitation, ReviewRequest, token_digest
from offices.models import Membership, Office
from outsmart.accounts.services import email_in_use
from outsmart.audit.models import AuditEvent
from outsmart.audit.services import audit_record
from outsmart.celery import enqueue_on_commit
from outsmart.mail import email_queue
from outsmart.tokens import derived_token, new_nonce


@dataclass(frozen=True)
class SendLimit:
    count: int
    window: timedelta
    scope: str  # "office" or "actor"


# Every invitation email (a new one or a resend) counts. Counted from the audit log, so the
# limits hold across processes and survive a cache flush or a Redis outage.
OFFICE_LIMIT = SendLimit(50, timedelta(hours=24), "office")
ADMIN_LIMIT = SendLimit(20, timedelta(hours=1), "actor")
SEND_ACTIONS = ("invitation.created", "invitation.resent")


class InvitationError(Exception):
    """Something the rules refuse; the message is meant for the person who tried."""


class AlreadyInvited(InvitationError):
    def __init__(self, invitation: Invitation):
        self.invitation = invitation
        super().__init__(
            f"{invitation.email} already has a pending invitation to this office. "
            "You can resend it instead."
        )


class AlreadyMember(InvitationError):
    pass


class LimitReached(InvitationError):
    pass


def _new_token_fields() -> dict:
    nonce = new_nonce()
    return {"token_nonce": nonce, "token_digest": token_digest(derived_token("invitation", nonce))}


def invitation_by_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("office", "invited_by")
        .filter(token_digest=token_digest(token))
        .first()
    )


def _check_limits(*, office: Office, actor) -> None:
    now = timezone.now()
    for limit in (OFFICE_LIMIT, ADMIN_LIMIT):
        if limit.scope == "actor" and actor is None:
            continue
        sends = AuditEvent.objects.filter(
            action__in=SEND_ACTIONS, created_at__gt=now - limit.window
        )
        sends = (
            sends.filter(office=office) if limit.scope == "office" else sends.filter(actor=actor)
        )
        recent = list(
            sends.order_by("-created_at").values_list("created_at", flat=True)[: limit.count]
        )
        if len(recent) >= limit.count:
            free_at = recent[-1] + limit.window
            minutes = max(1, int((free_at - now).total_seconds() // 60) + 1)
            wait = f"{minutes} minutes" if minutes < 120 else f"{round(minutes / 60)} hours"
            who = (
                f"This office has sent {limit.count} invitations in the last 24 hours"
                if limit.scope == "office"
                else f"You have sent {limit.count} invitations in the last hour"
            )
            raise LimitReached(f"{who}, the most we allow. You can send more in about {wait}.")


def _queue_send(invitation: Invitation) -> None:
    from invitations.tasks import invitation_send

    enqueue_on_commit(invitation_send, invitation.pk)


def _expire(invitation: Invitation, *, request: HttpRequest | None = None) -> None:
    invitation.status = Invitation.Status.EXPIRED
    invitation.save(update_fields=["status"])
    audit_record(
        action="invitation.expired",
        office=invitation.office,
        target=invitation,
        request=request,
        detail={"email": invitation.email},
    )


@transaction.atomic
def invitation_create(
    *,
    office: Office,
    email: str,
    role: str,
    invited_by,
    name: str = "",
    message: str = "",
    is_admin: bool = False,
    request: HttpRequest | None = None,
    require_setup: bool = True,
    enforce_limits: bool = True,
    actor=None,
) -> Invitation:
    """Invite `email` to `office` as `role`, and queue the email.

    `require_setup` and `enforce_limits` are off only for operator paths: createoffice (an
    office's first admin is invited before setup) and support resolving a review. `actor` is
    who does it when that is not the inviter named in the email (support, resolving a review):
    the audit log says who acted.
    """
    # One invitation at a time per office: the duplicate check and the limits are exact.
    # NO KEY UPDATE: rows that merely point at the office (audit events, memberships) can
    # still be written meanwhile, so this lock cannot deadlock with approve or revoke.
    office = Office.objects.select_for_update(no_key=True).get(pk=office.pk)
    if require_setup and not office.is_set_up:
        raise InvitationError("Complete your office setup before inviting practitioners and staff.")
    if Membership.objects.active().filter(office=office, user__email__iexact=email).exists():
        raise AlreadyMember(f"{email} is already a member of {office.name}.")
    existing = (
        Invitation.objects.select_for_update()
        .filter(office=office, email__iexact=email, status=Invitation.Status.PENDING)
        .first()
    )
    if existing is not None:
        if not existing.is_expired:
            raise AlreadyInvited(existing)
        _expire(existing, request=request)
    if enforce_limits:
        _check_limits(office=office, actor=invited_by)
    now = timezone.now()
    invitation = Invitation.objects.create(
        office=office,
        email=email,
        name=name,
        message=message,
        role=role,
        is_admin=is_admin,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
        delivery_due_at=now,
        **_new_token_fields(),
    )
    audit_record(
        action="invitation.created",
        actor=actor if actor is not None else invited_by,
        office=office,
        target=invitation,
        request=request,
        detail={"email": email, "role": role, "is_admin": is_admin},
    )
    _queue_send(invitation)
    return invitation


def _locked(invitation: Invitation) -> Invitation:
    # of=("self",): the inviter may be NULL, and PostgreSQL cannot lock the null side of a join.
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("office", "invited_by")
        .get(pk=invitation.pk)
    )


def _close(invitation: Invitation, status: str, *, by) -> None:
    invitation.status = status
    invitation.responded_at = timezone.now()
    invitation.responded_by = by
    invitation.save(update_fields=["status", "responded_at", "responded_by"])


def closed_reason(invitation: Invitation) -> str:
    """Why an invitation can no longer be used, for the person looking at it."""
    status = invitation.effective_status
    return {
        Invitation.Status.ACCEPTED: "This invitation has already been accepted.",
        Invitation.Status.DECLINED: "This invitation was declined.",
        Invitation.Status.REVOKED: "This invitation was withdrawn by the office.",
        Invitation.Status.EXPIRED: "This invitation has expired.",
    }.get(status, "This invitation can no longer be used.")


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, actor, request: HttpRequest | None, enforce_limits: bool = True
) -> Invitation:
    """Send a pending invitation again with a new link and a new 14 days; the old link stops
    working at once."""
    # The same office lock as create, taken first: the limits stay exact.
    Office.objects.select_for_update(no_key=True).get(pk=invitation.office_id)
    invitation = _locked(invitation)
    if invitation.status != Invitation.Status.PENDING:
        raise InvitationError(closed_reason(invitation))
    if enforce_limits:
        _check_limits(office=invitation.office, actor=actor)
    now = timezone.now()
    for field, value in _new_token_fields().items():
        setattr(invitation, field, value)
    invitation.expires_at = now + INVITATION_LIFETIME
    invitation.delivery_state = Invitation.Delivery.QUEUED
    invitation.delivery_attempts = 0
    invitation.delivery_error = ""
    invitation.delivery_due_at = now
    invitation.sent_at = None
    invitation.save()
    audit_record(
        action="invitation.resent",
        actor=actor,
        office=invitation.office,
        target=invitation,
        request=request,
        detail={"email": invitation.email},
    )
    _queue_send(invitation)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor, request: HttpRequest | None) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once."""
    invitation = _locked(invitation)
    if invitation.status != Invitation.Status.PENDING:
        raise InvitationError(closed_reason(invitation))
    _close(invitation, Invitation.Status.REVOKED, by=actor)
    audit_record(
        action="invitation.revoked",
        actor=actor,
        office=invitation.office,
        target=invitation,
        request=request,
        detail={"email": invitation.email},
    )
    return invitation


def invitation_viewed(*, invitation: Invitation, request: HttpRequest) -> None:
    """The landing page was opened (by the invitee, or by a mail scanner: it changes nothing)."""
    audit_record(
        action="invitation.viewed",
        actor=request.user,
        office=invitation.office,
        target=invitation,
        request=request,
    )


@transaction.atomic
def invitation_register(
    *, invitation: Invitation, first_name: str, last_name: str, password: str, request
):
    """Create the invitee's account from the invitation link: the address is verified by the
    link itself. The invitation stays pending until they approve it."""
    from allauth.account.models import EmailAddress

    from outsmart.accounts.models import User

    invitation = _locked(invitation)
    if not invitation.is_open:
        raise InvitationError(closed_reason(invitation))
    if email_in_use(invitation.email):
        raise InvitationError(
            "An account already uses this email address. Log in to accept the invitation."
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=invitation.email,
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
    except IntegrityError:  # the same address registered a moment ago through another path
        raise InvitationError(
            "An account already uses this email address. Log in to accept the invitation."
        ) from None
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    audit_record(
        action="invitation.registered",
        actor=user,
        office=invitation.office,
        target=invitation,
        request=request,
    )
    return user


def _for_user(invitation_id: int, user) -> Invitation | None:
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("office", "invited_by")
        .for_emails_of(user)
        .filter(pk=invitation_id)
        .first()
    )


class NotYours(InvitationError):
    pass


@transaction.atomic
def invitation_accept(*, invitation_id: int, user, request: HttpRequest | None) -> Membership:
    """Approve: the user joins the office. Exactly once, however many requests race."""
    invitation = _for_user(invitation_id, user)
    if invitation is None:
        raise NotYours("This invitation is not addressed to any verified email of your account.")
    if not invitation.is_open:
        raise InvitationError(closed_reason(invitation))
    office = invitation.office
    membership = Membership.objects.active().filter(office=office, user=user).first()
    if membership is None:
        membership = Membership.objects.create(
            office=office, user=user, role=invitation.role, is_admin=invitation.is_admin
        )
    _close(invitation, Invitation.Status.ACCEPTED, by=user)
    audit_record(
        action="invitation.approved",
        actor=user,
        office=office,
        target=invitation,
        request=request,
        detail={"role": invitation.role, "is_admin": invitation.is_admin},
    )
    _tell_inviter(invitation, user, "invitation_accepted")
    return membership


@transaction.atomic
def invitation_decline(*, invitation_id: int, user, request: HttpRequest | None) -> Invitation:
    invitation = _for_user(invitation_id, user)
    if invitation is None:
        raise NotYours("This invitation is not addressed to any verified email of your account.")
    if not invitation.is_open:
        raise InvitationError(closed_reason(invitation))
    _close(invitation, Invitation.Status.DECLINED, by=user)
    audit_record(
        action="invitation.declined",
        actor=user,
        office=invitation.office,
        target=invitation,
        request=request,
    )
    _tell_inviter(invitation, user, "invitation_declined")
    return invitation


def _tell_inviter(invitation: Invitation, user, name: str) -> None:
    if invitation.invited_by is None or not invitation.invited_by.is_active:
        return
    email_queue(
        to=[invitation.invited_by.email],
        name=name,
        context={"invitation": invitation, "office": invitation.office, "person": user},
    )


@transaction.atomic
def review_request_create(
    *, invitation: Invitation, contact_email: str, note: str, request: HttpRequest | None
) -> ReviewRequest:
    """The invitee says the invited address belongs to an account that is not theirs."""
    invitation = _locked(invitation)
    if not invitation.is_open:
        raise InvitationError(closed_reason(invitation))
    if invitation.review_requests.filter(status=ReviewRequest.Status.OPEN).exists():
        raise InvitationError(
            "A review of this invitation is already waiting for OutSmart Support. "
            "They will reply to the contact address you gave."
        )
    review = ReviewRequest.objects.create(
        invitation=invitation, contact_email=contact_email, note=note
    )
    audit_record(
        action="invitation.review_requested",
        office=invitation.office,
        target=invitation,
        request=request,
        detail={"review": review.pk},
    )
    email_queue(
        to=[settings.SUPPORT_EMAIL],
        name="review_requested",
        context={"review": review, "invitation": invitation, "office": invitation.office},
    )
    return review


@transaction.atomic
def review_request_resolve(
    *,
    review: ReviewRequest,
    resolution: str,
    new_email: str,
    note: str,
    actor,
    request: HttpRequest | None,
) -> ReviewRequest:
    """Support closes a review: re-send the invitation to another address the clinic
    confirmed, re-send it as it is, or close it without action."""
    review = ReviewRequest.objects.select_for_update().get(pk=review.pk)
    if review.status != ReviewRequest.Status.OPEN:
        raise InvitationError("This review was already resolved.")
    invitation = _locked(review.invitation)
    detail = {"review": review.pk, "resolution": resolution}
    if resolution == ReviewRequest.Resolution.RESENT_TO_OTHER_ADDRESS:
        if invitation.status == Invitation.Status.PENDING:
            invitation_revoke(invitation=invitation, actor=actor, request=request)
        replacement = invitation_create(
            office=invitation.office,
            email=new_email,
            role=invitation.role,
            is_admin=invitation.is_admin,
            invited_by=invitation.invited_by,
            name=invitation.name,
            message=invitation.message,
            request=request,
            require_setup=False,
            enforce_limits=False,
            actor=actor,
        )
        detail["replacement"] = replacement.pk
    elif resolution == ReviewRequest.Resolution.RESENT_SAME_ADDRESS:
        invitation_resend(invitation=invitation, actor=actor, request=request, enforce_limits=False)
    review.status = ReviewRequest.Status.RESOLVED
    review.resolution = resolution
    review.resolution_note = note
    review.resolved_at = timezone.now()
    review.resolved_by = actor
    review.save()
    audit_record(
        action="invitation.review_resolved",
        actor=actor,
        office=invitation.office,
        target=invitation,
        request=request,
        detail=detail,
    )
    return review
