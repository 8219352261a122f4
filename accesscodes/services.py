"""Issuing, cancelling, reissuing and redeeming access codes.

The portal calls `access_code_verify` (check only: the registration form uses it before it
creates anything) and `access_code_redeem` (check and use, exactly once). Both take what the
person typed, or a link token, and do the whole job: normalise, rate-limit, look up by keyed
hash, check status and expiry against the database clock, check the date of birth, audit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accesscodes.models import (
    CODE_PURPOSE,
    DOB_FAILURES_BEFORE_LOCK,
    LINK_PURPOSE,
    MEDICAL_RECORDS_LIFETIME,
    SMART_FORM_LIFETIME,
    AccessCode,
)
from accesscodes.words import CodeFormatError, ParsedCode, code_generate, code_parse
from offices.models import Office
from outsmart import ratelimit
from outsmart.audit.services import audit_record
from outsmart.celery import enqueue_on_commit
from outsmart.mail import email_queue, site_url
from outsmart.ratelimit import Limit
from outsmart.tokens import keyed_digest, looks_like_link_token, new_link_token, seal, unseal
from records.models import FormRequest, Patient

logger = logging.getLogger(__name__)

# Failed redemptions, counted in the shared cache so the limits hold across web processes.
# They fail closed: while the counters cannot be read, no code is checked (outsmart.ratelimit).
IP_LIMIT = Limit("redeem-ip", count=10, window=10 * 60, fail_closed=True)
ACCOUNT_LIMIT = Limit("redeem-account", count=5, window=15 * 60, fail_closed=True)

GENERIC_FAILURE = (
    "We could not use this access code. Check the four words against the code you were "
    "given. If they are right, the code may have expired, been used or been cancelled: "
    "ask your practitioner for a new one."
)
GENERIC_LINK_FAILURE = (
    "This access link cannot be used. It may have expired, been used or been cancelled, or "
    "it was not copied whole. Ask your practitioner for a new one."
)
EXPIRED_MEDICAL_RECORDS = (
    "This access code has expired. Access Codes for medical records are only valid for 5 days "
    "after having been issued: ask your practitioner for a new one."
)
EXPIRED_SMART_FORM = (
    "This Smart Form access code has expired. Ask your practitioner to send you the form again."
)
USED = (
    "This access code has already been used. If it was not you who used it, contact your "
    "practitioner right away: they can cancel that access and give you a new code."
)
USED_BY_YOU = "You have already used this access code: the data is on your Dashboard."
FORM_SUBMITTED = "This Smart Form has already been submitted. Thank you!"
CANCELLED = "This access code was cancelled by the clinic. Ask your practitioner for a new one."
LOCKED = (
    "This access code is locked because a wrong date of birth was entered too many times. "
    "Ask your practitioner for a new one."
)
DOB_MISMATCH = (
    "The date of birth does not match the clinic's record for this access code. Check it "
    "(month, day and year) and try again."
)
DOB_NEEDED = "Enter the patient's date of birth to use this access code."
NO_DOB_ON_FILE = (
    "This access code cannot be checked: the clinic has no date of birth on file for it. "
    "Contact your clinic."
)
ACCOUNT_NEEDED = "Log in or create an account to use a Medical Records Access Code."
CHECK_UNAVAILABLE = (
    "Access codes cannot be checked right now. Nothing was used up: please try again in a minute."
)


class IssueError(Exception):
    """The code cannot be issued as asked; the message says why, for the clinic."""


class RedeemError(Exception):
    """The code cannot be used. `message` is what the person should read."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class DateOfBirthNeeded(RedeemError):
    """The code needs the patient's date of birth before anything else is said about it."""

    def __init__(self) -> None:
        super().__init__(DOB_NEEDED, reason="dob_needed")


class Throttled(RedeemError):
    def __init__(self, minutes: int) -> None:
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            "Too many access codes that did not work were tried from here. For your security, "
            f"please try again in {minutes} {unit}.",
            reason="throttled",
        )
        self.minutes = minutes


class CheckUnavailable(Throttled):
    """The failure counters cannot be read or written (Redis is away): no code is checked
    until they can, or the limits would stop limiting."""

    def __init__(self) -> None:
        RedeemError.__init__(self, CHECK_UNAVAILABLE, reason="unavailable")
        self.minutes = 1


@dataclass(frozen=True)
class Issued:
    """A code just issued: the only moment its plain words and link exist outside the email."""

    access_code: AccessCode
    code: str
    link: str
    created: bool = True  # False: the same issue form was posted again; nothing was issued

    @property
    def words(self) -> list[str]:
        return self.code.split(" ")


@dataclass(frozen=True)
class Redemption:
    access_code: AccessCode
    grant: (
        object | None
    )  # portal.models.PortalAccess; None for a Smart Form opened without an account


# --- helpers --------------------------------------------------------------------------------


def code_digest(canonical: str) -> str:
    return keyed_digest(CODE_PURPOSE, canonical)


def link_digest(token: str) -> str:
    return keyed_digest(LINK_PURPOSE, token)


def access_link(token: str) -> str:
    from django.urls import reverse

    return site_url() + reverse("access_link", args=[token])


def database_now() -> datetime:
    """The database's clock, read once: expiry is decided by it, so web processes with drifting
    clocks agree. On PostgreSQL it is the current transaction's start."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT now()")
            return cursor.fetchone()[0]
    return timezone.now()


def sealed_secrets(access_code: AccessCode) -> tuple[str, str]:
    """The plain code and link token of a code whose delivery is pending (for the worker)."""
    data = json.loads(unseal(CODE_PURPOSE, access_code.sealed))
    return data["code"], data["token"]


def _lifetime(kind: str):
    return (
        MEDICAL_RECORDS_LIFETIME if kind == AccessCode.Kind.MEDICAL_RECORDS else SMART_FORM_LIFETIME
    )


def _check_address(channel: str, address: str) -> str:
    from django.core.exceptions import ValidationError

    from outsmart.sms import phone_normalise
    from outsmart.text import normalise_email, validate_email

    if channel == AccessCode.Channel.EMAIL:
        address = normalise_email(address or "")
        try:
            validate_email(address)
        except ValidationError:
            raise IssueError("Enter a valid email address to send the code to.") from None
        return address
    if channel == AccessCode.Channel.SMS:
        number = phone_normalise(address or "")
        if number is None:
            raise IssueError(
                "Enter a mobile number to text the code to, with its country code "
                "(for example +1 514 555 0123)."
            )
        return number
    return ""


# --- issuing --------------------------------------------------------------------------------


@transaction.atomic
def access_code_issue(
    *,
    office: Office,
    patient: Patient,
    kind: str,
    actor,
    channel: str,
    address: str = "",
    form_request: FormRequest | None = None,
    issue_key: str = "",
    replaces: AccessCode | None = None,
    request: HttpRequest | None = None,
) -> Issued:
    """Issue a code (and its link) for `patient`, delivered by `channel`.

    Email and SMS are sent by a worker after commit. For phone and the printed slip the code is
    in the returned `Issued` only: the caller shows it once, and it is never retrievable again.
    """
    if patient.office_id != office.pk:
        raise IssueError("This patient is not part of this office.")
    if kind not in AccessCode.Kind.values:
        raise IssueError("Choose what the code opens.")
    if channel not in AccessCode.Channel.values:
        raise IssueError("Choose how to give the code to the patient.")
    if kind == AccessCode.Kind.MEDICAL_RECORDS:
        form_request = None
        if patient.date_of_birth is None:
            raise IssueError(
                f"Add {patient.first_name}'s date of birth first: the portal asks for it "
                "with a medical-records code."
            )
    else:
        if form_request is None or form_request.patient_id != patient.pk:
            raise IssueError("Choose the Smart Form this link opens.")
        if form_request.status != FormRequest.Status.PENDING:
            raise IssueError("This Smart Form has already been submitted.")
    address = _check_address(channel, address)
    if issue_key:
        earlier = AccessCode.objects.filter(issued_by=actor, issue_key=issue_key).first()
        if earlier is not None:
            return Issued(access_code=earlier, code="", link="", created=False)

    delivered = channel in (AccessCode.Channel.EMAIL, AccessCode.Channel.SMS)
    now = timezone.now()
    for _attempt in range(5):
        code = code_generate()
        token = new_link_token()
        access_code = AccessCode(
            office=office,
            patient=patient,
            form_request=form_request,
            kind=kind,
            code_digest=code_digest(code),
            link_digest=link_digest(token),
            sealed=seal(CODE_PURPOSE, json.dumps({"code": code, "token": token}))
            if delivered
            else "",
            issued_at=now,
            expires_at=now + _lifetime(kind),
            issued_by=actor,
            issue_key=issue_key,
            replaces=replaces,
            channel=channel,
            address=address,
            delivery_state=AccessCode.Delivery.QUEUED if delivered else AccessCode.Delivery.HANDED,
            delivery_due_at=now,
        )
        try:
            with transaction.atomic():  # a savepoint: a clash with an active code is retried
                access_code.save()
        except IntegrityError as error:
            if "accesscode_issue_key_unique" in str(error):
                earlier = AccessCode.objects.get(issued_by=actor, issue_key=issue_key)
                return Issued(access_code=earlier, code="", link="", created=False)
            if "accesscode_active_code_unique" not in str(error):
                raise
            logger.warning("access code clash with an active code; drawing again")
            continue
        break
    else:  # pragma: no cover - five clashes in 2.8e12 codes means the generator is broken
        raise IssueError("No free access code could be drawn; try again.")

    audit_record(
        action="access_code.issued",
        actor=actor,
        office=office,
        patient=patient,
        target=access_code,
        request=request,
        detail={
            "kind": kind,
            "channel": channel,
            "form_request": form_request.pk if form_request else None,
            "replaces": replaces.pk if replaces else None,
        },
    )
    if delivered:
        from accesscodes.tasks import access_code_deliver

        enqueue_on_commit(access_code_deliver, access_code.pk)
    return Issued(access_code=access_code, code=code, link=access_link(token))


@transaction.atomic
def smart_form_send(
    *,
    office: Office,
    patient: Patient,
    form,
    actor,
    channel: str,
    address: str = "",
    issue_key: str = "",
    request: HttpRequest | None = None,
) -> Issued:
    """Send a Smart Form to a patient: the FormRequest and the code (access link and backup
    code) that opens it, in one transaction, so no form is recorded as sent without its code.
    A repeated post of the same issue form returns the first code (created=False) and leaves
    no second FormRequest behind."""
    from records.services.smartforms import form_request_create

    if issue_key:
        earlier = AccessCode.objects.filter(issued_by=actor, issue_key=issue_key).first()
        if earlier is not None:
            return Issued(access_code=earlier, code="", link="", created=False)
    form_request = form_request_create(
        office=office, patient=patient, form=form, actor=actor, request=request
    )
    issued = access_code_issue(
        office=office,
        patient=patient,
        kind=AccessCode.Kind.SMART_FORM,
        actor=actor,
        channel=channel,
        address=address,
        form_request=form_request,
        issue_key=issue_key,
        request=request,
    )
    if not issued.created:  # the same post won a race a moment ago: undo this FormRequest
        transaction.set_rollback(True)
    return issued


def _revoke_grants(access_code: AccessCode, *, actor) -> int:
    from portal.models import PortalAccess

    return PortalAccess.objects.filter(access_code=access_code, revoked_at=None).update(
        revoked_at=timezone.now(), revoked_by=actor, revoke_reason=PortalAccess.RevokeReason.CLINIC
    )


@transaction.atomic
def access_code_cancel(
    *, access_code: AccessCode, actor, request: HttpRequest | None = None, reason: str = ""
) -> bool:
    """Stop a code at once. An active code can no longer be used; a redeemed one also takes
    back the portal access it gave. Returns False when there was nothing to stop."""
    reason = reason or AccessCode.CancelReason.CANCELLED
    now = timezone.now()
    stopped = AccessCode.objects.filter(pk=access_code.pk, status=AccessCode.Status.ACTIVE).update(
        status=AccessCode.Status.CANCELLED,
        cancelled_at=now,
        cancelled_by=actor,
        cancel_reason=reason,
        sealed="",
    )
    if stopped:
        # A delivery still waiting will not happen (the worker skips inactive codes): say so.
        AccessCode.objects.filter(
            pk=access_code.pk,
            delivery_state__in=[AccessCode.Delivery.QUEUED, AccessCode.Delivery.SENDING],
        ).update(
            delivery_state=AccessCode.Delivery.FAILED, delivery_error="cancelled before sending"
        )
    revoked = _revoke_grants(access_code, actor=actor)
    if not stopped and not revoked:
        return False
    access_code.refresh_from_db()
    audit_record(
        action="access_code.cancelled",
        actor=actor,
        office=access_code.office,
        patient=access_code.patient,
        target=access_code,
        request=request,
        detail={"reason": reason, "grants_revoked": revoked, "was_active": bool(stopped)},
    )
    return True


def reissue_problem(access_code: AccessCode) -> str:
    """Why `access_code` cannot be reissued, in words for the clinic, or "" when it can.
    Reads `is_replaced` when the row was annotated with it (the patient page's selector)."""
    replaced = getattr(access_code, "is_replaced", None)
    if replaced is None:
        replaced = AccessCode.objects.filter(replaces=access_code).exists()
    if replaced:
        return "This code was already replaced by a newer one: reissue that one instead."
    if access_code.form_request_id and access_code.form_request.status != (
        FormRequest.Status.PENDING
    ):
        return "This Smart Form has already been submitted: there is nothing to reopen."
    if access_code.status == AccessCode.Status.REDEEMED:
        return (
            "This code was already used. To give the patient access again, issue a new "
            "Medical Records Access Code."
        )
    return ""


@transaction.atomic
def access_code_reissue(
    *,
    access_code: AccessCode,
    actor,
    channel: str,
    address: str = "",
    issue_key: str = "",
    request: HttpRequest | None = None,
) -> Issued:
    """Cancel `access_code` and issue a new one of the same kind, for the same patient and
    Smart Form, in one step (the patient lost it, or it expired)."""
    locked = AccessCode.objects.select_for_update().get(pk=access_code.pk)
    if issue_key:
        earlier = AccessCode.objects.filter(issued_by=actor, issue_key=issue_key).first()
        if earlier is not None:
            return Issued(access_code=earlier, code="", link="", created=False)
    if problem := reissue_problem(locked):
        raise IssueError(problem)
    if locked.status == AccessCode.Status.ACTIVE:
        access_code_cancel(
            access_code=locked,
            actor=actor,
            request=request,
            reason=AccessCode.CancelReason.REISSUED,
        )
    return access_code_issue(
        office=locked.office,
        patient=locked.patient,
        kind=locked.kind,
        actor=actor,
        channel=channel,
        address=address,
        form_request=locked.form_request,
        issue_key=issue_key,
        replaces=locked,
        request=request,
    )


# --- redeeming ------------------------------------------------------------------------------


def _throttle_check(ip: str | None, identifier: str | None, request) -> None:
    for limit, ident in ((IP_LIMIT, ip), (ACCOUNT_LIMIT, identifier)):
        if not ident:
            continue
        try:
            verdict = ratelimit.check(limit, ident)
        except ratelimit.LimitUnavailable:
            raise CheckUnavailable() from None
        if not verdict.allowed:
            audit_record(
                action="access_code.throttled",
                request=request,
                actor=getattr(request, "user", None),
                detail={"limit": limit.name},
            )
            raise Throttled(verdict.retry_after_minutes)


def _count_failure(ip: str | None, identifier: str | None) -> None:
    if ip:
        ratelimit.hit(IP_LIMIT, ip)
    if identifier:
        ratelimit.hit(ACCOUNT_LIMIT, identifier)


def _fail(
    reason: str,
    message: str,
    *,
    access_code: AccessCode | None,
    request,
    ip,
    identifier,
    via: str,
    count: bool = True,
):
    counted = True
    if count:
        try:
            _count_failure(ip, identifier)
        except ratelimit.LimitUnavailable:
            counted = False
    audit_record(
        action="access_code.redeem_failed",
        actor=getattr(request, "user", None),
        office=access_code.office if access_code else None,
        patient=access_code.patient if access_code else None,
        target=access_code,
        request=request,
        detail={"reason": reason, "via": via},
    )
    if not counted:  # the failure could not be counted: say nothing more about the code
        raise CheckUnavailable()
    raise RedeemError(message, reason=reason)


def _status_message(access_code: AccessCode, now: datetime, user) -> tuple[str, str]:
    """(reason, message) for a code that cannot be used, told only to someone who proved they
    own it (right code and right date of birth)."""
    if access_code.status == AccessCode.Status.CANCELLED:
        if access_code.cancel_reason == AccessCode.CancelReason.LOCKED:
            return "locked", LOCKED
        return "cancelled", CANCELLED
    if access_code.status == AccessCode.Status.REDEEMED:
        if access_code.form_request_id:
            return "used", FORM_SUBMITTED
        if user is not None and access_code.redeemed_by_id == getattr(user, "pk", None):
            return "used", USED_BY_YOU
        return "used", USED
    if access_code.status == AccessCode.Status.EXPIRED or access_code.expires_at <= now:
        if access_code.is_medical_records:
            return "expired", EXPIRED_MEDICAL_RECORDS
        return "expired", EXPIRED_SMART_FORM
    return "", ""


def _lookup(typed, token, code_id) -> tuple[AccessCode | None, str]:
    """Find the code by the keyed hash of what was given: a usable one first."""
    if code_id is not None:
        # The caller's session opened this code's link a moment ago (portal.access).
        found = AccessCode.objects.select_related("office", "patient", "form_request")
        return found.filter(pk=code_id).first(), "link"
    if token is not None:
        if not isinstance(token, str) or not looks_like_link_token(token):
            return None, "link"
        digest_filter = {"link_digest": link_digest(token)}
        via = "link"
    else:
        parsed: ParsedCode = code_parse(typed)  # CodeFormatError goes to the caller
        digest_filter = {"code_digest": code_digest(parsed.text)}
        via = "code"
    candidates = list(
        AccessCode.objects.select_related("office", "patient", "form_request")
        .filter(**digest_filter)
        .order_by("-issued_at")[:5]
    )
    # The active row, if any (there is at most one); otherwise the newest, whose state is told.
    active = [c for c in candidates if c.status == AccessCode.Status.ACTIVE]
    return (active[0] if active else (candidates[0] if candidates else None)), via


def _check(
    *,
    typed,
    token,
    code_id: int | None,
    date_of_birth: date | None,
    user,
    ip: str | None,
    identifier: str | None,
    request,
) -> tuple[AccessCode, datetime, str]:
    _throttle_check(ip, identifier, request)
    access_code, via = _lookup(typed, token, code_id)
    generic = GENERIC_LINK_FAILURE if via == "link" else GENERIC_FAILURE
    common = {"request": request, "ip": ip, "identifier": identifier, "via": via}
    if access_code is None:
        _fail("unknown", generic, access_code=None, **common)
    now = database_now()
    usable = access_code.status == AccessCode.Status.ACTIVE and access_code.expires_at > now
    patient_dob = access_code.patient.date_of_birth
    proven = date_of_birth is not None and patient_dob is not None and date_of_birth == patient_dob
    # A link token (144 random bits) cannot be guessed: holding it proves ownership as well as
    # the right date of birth does, so a link's real state is told. A typed code (41 bits) is
    # told only generically until the date of birth matches.
    told = proven or via == "link"
    if not usable:
        reason, message = _status_message(access_code, now, user)
        if told:
            _fail(reason, message, access_code=access_code, count=reason != "used", **common)
        if date_of_birth is None and patient_dob is not None:
            raise DateOfBirthNeeded()
        _fail(reason, generic, access_code=access_code, **common)
    if access_code.is_medical_records and date_of_birth is None:
        raise DateOfBirthNeeded()
    if access_code.is_medical_records and patient_dob is None:
        # The clinic removed it after issuing: nobody can pass the check, so nobody is blamed.
        _fail("no_dob_on_file", NO_DOB_ON_FILE, access_code=access_code, count=False, **common)
    if access_code.is_medical_records and not proven:
        failures = access_code.dob_failures + 1
        AccessCode.objects.filter(pk=access_code.pk).update(dob_failures=F("dob_failures") + 1)
        if failures >= DOB_FAILURES_BEFORE_LOCK:
            access_code_cancel(
                access_code=access_code,
                actor=None,
                request=request,
                reason=AccessCode.CancelReason.LOCKED,
            )
            _fail("locked", LOCKED, access_code=access_code, **common)
        _fail("dob_mismatch", DOB_MISMATCH, access_code=access_code, **common)
    return access_code, now, via


def access_link_preview(
    *, token: str, ip: str | None = None, request: HttpRequest | None = None
) -> AccessCode:
    """What an access link opens, for its landing page (a GET: nothing changes but the failure
    counters and the audit log). Raises RedeemError (with the link's real state: whoever holds
    a 144-bit token owns it) or Throttled."""
    _throttle_check(ip, None, request)
    access_code, via = _lookup(None, token, None)
    common = {"request": request, "ip": ip, "identifier": None, "via": via}
    if access_code is None:
        _fail("unknown", GENERIC_LINK_FAILURE, access_code=None, **common)
    now = database_now()
    if not (access_code.status == AccessCode.Status.ACTIVE and access_code.expires_at > now):
        reason, message = _status_message(access_code, now, None)
        _fail(reason, message, access_code=access_code, count=False, **common)
    audit_record(
        action="access_link.viewed",
        actor=getattr(request, "user", None),
        office=access_code.office,
        patient=access_code.patient,
        target=access_code,
        request=request,
    )
    return access_code


def access_code_verify(
    *,
    typed: str | list[str] | None = None,
    token: str | None = None,
    code_id: int | None = None,
    date_of_birth: date | None = None,
    user=None,
    ip: str | None = None,
    identifier: str | None = None,
    request: HttpRequest | None = None,
) -> AccessCode:
    """Check a code (or link token) without using it: the registration form calls this before
    it creates an account. Failures count against the rate limits and are audited, exactly as
    in `access_code_redeem`.

    Raises CodeFormatError (what was typed cannot be a code: nothing was looked up),
    Throttled, DateOfBirthNeeded or RedeemError.
    """
    access_code, _now, _via = _check(
        typed=typed,
        token=token,
        code_id=code_id,
        date_of_birth=date_of_birth,
        user=user,
        ip=ip,
        identifier=identifier,
        request=request,
    )
    return access_code


def access_code_redeem(
    *,
    typed: str | list[str] | None = None,
    token: str | None = None,
    code_id: int | None = None,
    date_of_birth: date | None = None,
    user=None,
    ip: str | None = None,
    identifier: str | None = None,
    via: str | None = None,
    request: HttpRequest | None = None,
) -> Redemption:
    """Use a code: check it as `access_code_verify` does, then give `user` access.

    A medical-records code is used up exactly once (a conditional UPDATE: of many simultaneous
    requests one wins), and the patient is told by email. A Smart Form code stays usable until
    the form is submitted; with `user` it puts the form on their Dashboard, without a user
    (an access link opened by someone with no account) it only answers which form it opens.

    The checks run outside the transaction that uses the code, so a failure's audit event and
    date-of-birth count are kept. A caller that wraps this in its own transaction (the
    registration form) must call `access_code_verify` first for the same reason.
    """
    access_code, now, looked_up_via = _check(
        typed=typed,
        token=token,
        code_id=code_id,
        date_of_birth=date_of_birth,
        user=user,
        ip=ip,
        identifier=identifier,
        request=request,
    )
    if access_code.is_medical_records and user is None:
        raise RedeemError(ACCOUNT_NEEDED, reason="account_needed")
    with transaction.atomic():
        grant = _grant(access_code, now=now, user=user, via=via or looked_up_via, request=request)
    if grant is None and access_code.is_medical_records:  # someone else's request won the race
        access_code.refresh_from_db()
        reason, message = _status_message(access_code, now, user)
        _fail(
            reason or "used",
            message or USED,
            access_code=access_code,
            request=request,
            ip=ip,
            identifier=identifier,
            via=looked_up_via,
            count=False,
        )
    return Redemption(access_code=access_code, grant=grant)


def _grant(access_code: AccessCode, *, now: datetime, user, via: str, request):
    from portal.models import PortalAccess

    granted_via = via if via in PortalAccess.Via.values else PortalAccess.Via.CODE
    if access_code.is_medical_records:
        used = AccessCode.objects.filter(
            pk=access_code.pk, status=AccessCode.Status.ACTIVE, expires_at__gt=now
        ).update(
            status=AccessCode.Status.REDEEMED,
            redeemed_at=timezone.now(),
            redeemed_by=user,
            sealed="",
        )
        if not used:
            return None
        grant, _created = PortalAccess.objects.get_or_create(
            user=user,
            patient=access_code.patient,
            kind=PortalAccess.Kind.MEDICAL_RECORDS,
            revoked_at=None,
            defaults={"access_code": access_code, "granted_via": granted_via},
        )
    elif user is not None:
        grant, _created = PortalAccess.objects.get_or_create(
            user=user,
            form_request=access_code.form_request,
            kind=PortalAccess.Kind.SMART_FORM,
            revoked_at=None,
            defaults={
                "access_code": access_code,
                "patient": access_code.patient,
                "granted_via": granted_via,
            },
        )
    else:
        grant = None
    audit_record(
        action="access_code.redeemed" if access_code.is_medical_records else "access_code.opened",
        actor=user,
        office=access_code.office,
        patient=access_code.patient,
        target=access_code,
        request=request,
        detail={"via": granted_via, "kind": access_code.kind, "grant": getattr(grant, "pk", None)},
    )
    if access_code.is_medical_records:
        _tell_patient_connected(access_code, user)
    return grant


def _tell_patient_connected(access_code: AccessCode, user) -> None:
    """Email the account holder, and the patient's address on file when it is another one, so
    a code used by someone else does not go unnoticed."""
    recipients = [user.email]
    on_file = (access_code.patient.email or "").strip()
    if on_file and on_file.lower() != user.email.lower():
        recipients.append(on_file)
    office = access_code.office
    from zoneinfo import ZoneInfo

    # Rendered now, in the clinic's time zone (the date filter uses the active one).
    with timezone.override(ZoneInfo(office.time_zone)):
        for recipient in recipients:
            email_queue(
                to=[recipient],
                name="records_connected",
                context={
                    "office": office,
                    "account_email": user.email,
                    "to_account_holder": recipient == user.email,
                    "connected_at": timezone.now(),
                },
            )


def access_code_form_submitted(*, form_request: FormRequest, user=None) -> int:
    """A Smart Form was submitted: its codes and links have done their job."""
    return AccessCode.objects.filter(
        form_request=form_request, status=AccessCode.Status.ACTIVE
    ).update(
        status=AccessCode.Status.REDEEMED,
        redeemed_at=timezone.now(),
        redeemed_by=user if getattr(user, "is_authenticated", False) else None,
        sealed="",
    )


__all__ = [
    "CheckUnavailable",
    "CodeFormatError",
    "DateOfBirthNeeded",
    "IssueError",
    "Issued",
    "RedeemError",
    "Redemption",
    "Throttled",
    "access_code_cancel",
    "access_code_form_submitted",
    "access_code_issue",
    "access_code_redeem",
    "access_code_reissue",
    "access_code_verify",
]
