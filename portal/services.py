"""What a portal account does with its access: download a document, submit a Smart Form,
remove a grant, or report one as "This wasn't me". Each checks its own rules and audits."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone

from accesscodes.services import access_code_form_submitted
from offices.models import Membership
from outsmart.audit.services import audit_record
from outsmart.mail import email_queue, site_url
from portal.models import PortalAccess
from records.models import FormRequest
from records.services.smartforms import form_request_submit


class AccountExists(Exception):
    """An account already uses the address: log in and use +Access Code instead."""


def patient_register(
    *,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    date_of_birth,
    typed=None,
    code_id: int | None = None,
    ip: str | None = None,
    identifier: str | None = None,
    request: HttpRequest | None = None,
):
    """Register Here: a portal account, only with a valid access code (typed, or the id of a
    code whose link this browser opened). The code is verified first, so a failure is counted
    and audited for good; then the account, its unverified address, the redemption and the
    grant are made in one transaction: if the code is used meanwhile, nothing is created.
    Returns (user, redemption). Raises AccountExists, and what access_code_verify raises."""
    from allauth.account.models import EmailAddress

    from accesscodes import services as codes
    from outsmart.accounts.models import User
    from outsmart.accounts.services import email_in_use

    if email_in_use(email):
        raise AccountExists()
    access_code = codes.access_code_verify(
        typed=typed,
        code_id=code_id,
        date_of_birth=date_of_birth,
        ip=ip,
        identifier=identifier,
        request=request,
    )
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name
            )
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
            redemption = codes.access_code_redeem(
                code_id=access_code.pk,
                date_of_birth=date_of_birth,
                user=user,
                ip=ip,
                identifier=identifier,
                via=PortalAccess.Via.REGISTRATION,
                request=request,
            )
            audit_record(
                action="portal.registered",
                actor=user,
                office=access_code.office,
                patient=access_code.patient,
                target=user,
                request=request,
                detail={"kind": access_code.kind},
            )
    except IntegrityError:  # the same address registered a moment ago
        raise AccountExists() from None
    return user, redemption


@transaction.atomic
def portal_form_submit(
    *, form_request: FormRequest, data, user=None, request: HttpRequest | None = None
) -> FormRequest:
    """Store a patient's answers from the portal, once, and retire the form's access codes and
    links in the same transaction. Raises AnswersInvalid (with the form to show again) or
    SmartFormError (already submitted). `user` is None for a session opened by a link."""
    actor = user if getattr(user, "is_authenticated", False) else None
    form_request = form_request_submit(
        form_request=form_request, data=data, actor=actor, request=request
    )
    access_code_form_submitted(form_request=form_request, user=actor)
    return form_request


def _own_grant(grant: PortalAccess, user) -> PortalAccess:
    """The grant, locked, if it is `user`'s; 404 otherwise (another account's grant is
    answered like one that does not exist)."""
    locked = (
        PortalAccess.objects.select_for_update(of=("self",))
        .select_related("patient__office", "form_request", "access_code__issued_by")
        .filter(pk=grant.pk, user_id=getattr(user, "pk", None))
        .first()
    )
    if locked is None:
        raise Http404
    return locked


def _audit_detail(grant: PortalAccess) -> dict:
    return {"kind": grant.kind, "form_request": grant.form_request_id, "grant": grant.pk}


@transaction.atomic
def portal_access_remove(*, grant: PortalAccess, user, request: HttpRequest | None = None) -> bool:
    """The account holder gives back a grant: access stops at the next request. Returns False
    when it was already revoked (nothing changes)."""
    grant = _own_grant(grant, user)
    if grant.revoked_at is not None:
        return False
    grant.revoked_at = timezone.now()
    grant.revoked_by = user
    grant.revoke_reason = PortalAccess.RevokeReason.REMOVED
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(
        action="portal.access_removed",
        actor=user,
        office=grant.patient.office,
        patient=grant.patient,
        target=grant,
        request=request,
        detail=_audit_detail(grant),
    )
    return True


def can_report_not_me(grant: PortalAccess) -> bool:
    """“This wasn't me” is offered on an active grant, and on one the holder removed
    themself (they may notice only later that they never used that code)."""
    return grant.revoked_at is None or grant.revoke_reason == PortalAccess.RevokeReason.REMOVED


@transaction.atomic
def portal_access_not_me(*, grant: PortalAccess, user, request: HttpRequest | None = None) -> bool:
    """The account holder says they did not use the code behind this grant: the grant is
    revoked (reason not_me) and the clinic's admins are emailed, so they can find out who
    used the code and give the patient a new one. Returns False when there was nothing to
    report (already reported, or cancelled by the clinic)."""
    grant = _own_grant(grant, user)
    if not can_report_not_me(grant):
        return False
    was_active = grant.revoked_at is None
    reported_at = timezone.now()
    if was_active:
        grant.revoked_at = reported_at
        grant.revoked_by = user
    grant.revoke_reason = PortalAccess.RevokeReason.NOT_ME
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    office = grant.patient.office
    audit_record(
        action="portal.access_not_me",
        actor=user,
        office=office,
        patient=grant.patient,
        target=grant,
        request=request,
        detail={**_audit_detail(grant), "was_active": was_active},
    )
    _tell_clinic_not_me(grant, user=user, reported_at=reported_at)
    return True


def _tell_clinic_not_me(grant: PortalAccess, *, user, reported_at) -> None:
    office = grant.patient.office
    zone = ZoneInfo(office.time_zone)
    admins = (
        Membership.objects.active()
        .filter(office=office, is_admin=True)
        .select_related("user")
        .order_by("user__email")
    )
    issuer = grant.access_code.issued_by
    context = {
        "office": office,
        "patient": grant.patient,
        "grant": grant,
        "kind": grant.get_kind_display(),
        "form_title": grant.form_request.title if grant.form_request_id else "",
        "account_email": user.email,
        "granted_at": grant.granted_at,
        "granted_via": grant.get_granted_via_display().lower(),
        "reported_at": reported_at,
        "issued_at": grant.access_code.issued_at,
        "issued_by": (issuer.get_full_name() or issuer.email) if issuer else "",
        "patient_url": site_url() + reverse("records:patient", args=[grant.patient_id]),
    }
    # Templates show datetimes in the active time zone: the clinic's, for the clinic.
    with timezone.override(zone):
        for membership in admins:
            email_queue(to=[membership.user.email], name="portal_access_not_me", context=context)
