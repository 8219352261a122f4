"""Two-factor authentication: set-up, verification, backup codes."""

from __future__ import annotations

from dataclasses import dataclass

import django_otp
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from outsmart import ratelimit
from outsmart.accounts.backup_codes import backup_code_digest, generate_backup_codes
from outsmart.accounts.models import BackupCode, BackupCodeDevice, User
from outsmart.audit.services import audit_record
from outsmart.mail import email_queue

TOTP_NAME = "Authenticator app"


def two_factor_limit() -> ratelimit.Limit:
    from django.conf import settings

    count, window = settings.TWO_FACTOR_FAILURE_LIMIT
    return ratelimit.Limit("two-factor", count, window, fail_closed=True)


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (made on first visit, kept on reload so the
    QR code the person already scanned stays valid)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def _backup_codes_replace(*, user: User) -> list[str]:
    BackupCodeDevice.objects.filter(user=user).delete()
    device = BackupCodeDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = generate_backup_codes()
    BackupCode.objects.bulk_create(
        [BackupCode(device=device, digest=backup_code_digest(code)) for code in codes]
    )
    return codes


@dataclass
class EnableResult:
    ok: bool
    backup_codes: list[str]


@transaction.atomic
def two_factor_enable(*, user: User, token: str, request: HttpRequest) -> EnableResult:
    """Confirm the pending authenticator with a code from it; on success the session counts as
    verified, backup codes are issued, and the person is told by email."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("-id")
        .first()
    )
    if device is None or not device.verify_token(token):
        audit_record(action="two_factor.setup_failed", actor=user, target=user, request=request)
        return EnableResult(ok=False, backup_codes=[])
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    codes = _backup_codes_replace(user=user)
    django_otp.login(request, device)
    audit_record(action="two_factor.enabled", actor=user, target=user, request=request)
    email_queue(to=[user.email], name="two_factor_enabled", context={"user": user})
    return EnableResult(ok=True, backup_codes=codes)


@transaction.atomic
def backup_codes_regenerate(*, user: User, request: HttpRequest) -> list[str]:
    codes = _backup_codes_replace(user=user)
    audit_record(
        action="two_factor.backup_codes_regenerated", actor=user, target=user, request=request
    )
    return codes


@transaction.atomic
def two_factor_disable(*, user: User, request: HttpRequest) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    audit_record(action="two_factor.disabled", actor=user, target=user, request=request)
    email_queue(to=[user.email], name="two_factor_disabled", context={"user": user})


@dataclass
class VerifyResult:
    ok: bool
    throttled: bool = False
    retry_after_minutes: int = 0
    used_backup_code: bool = False
    unavailable: bool = False  # the failure counter cannot be read: nothing was checked


def two_factor_verify(*, user: User, token: str, request: HttpRequest) -> VerifyResult:
    """Check a second factor (a code from the authenticator, or a backup code) for the
    password-authenticated session. Failures are audited and counted per user in the shared
    cache; over the limit nothing is checked until the window passes, and nothing either while
    that counter cannot be read (it fails closed: outsmart.ratelimit)."""
    limit = two_factor_limit()
    try:
        verdict = ratelimit.check(limit, f"user:{user.pk}")
    except ratelimit.LimitUnavailable:
        return VerifyResult(ok=False, unavailable=True)
    if not verdict.allowed:
        audit_record(action="two_factor.throttled", actor=user, target=user, request=request)
        return VerifyResult(
            ok=False, throttled=True, retry_after_minutes=verdict.retry_after_minutes
        )
    token = token.strip()
    device = None
    used_backup = False
    with transaction.atomic():
        if token.isdigit() and len(token) == 6:
            totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            # verify_token rejects a code already used (last_t) and throttles repeated failures.
            if totp is not None and totp.verify_token(token):
                device = totp
        else:
            backup = BackupCodeDevice.objects.filter(user=user, confirmed=True).first()
            if backup is not None and backup.verify_token(token):
                device, used_backup = backup, True
    if device is None:
        try:
            verdict = ratelimit.hit(limit, f"user:{user.pk}")
        except ratelimit.LimitUnavailable:
            verdict = None
        audit_record(
            action="two_factor.failed",
            actor=user,
            target=user,
            request=request,
            detail={"kind": "totp" if token.isdigit() else "backup_code"},
        )
        if verdict is None:  # this failure could not be counted
            return VerifyResult(ok=False, unavailable=True)
        return VerifyResult(
            ok=False, throttled=not verdict.allowed, retry_after_minutes=verdict.retry_after_minutes
        )
    django_otp.login(request, device)
    audit_record(
        action="two_factor.verified",
        actor=user,
        target=user,
        request=request,
        detail={"method": "backup_code" if used_backup else "totp"},
    )
    if used_backup:
        remaining = BackupCode.objects.filter(device=device, used_at__isnull=True).count()
        email_queue(
            to=[user.email], name="backup_code_used", context={"user": user, "remaining": remaining}
        )
    return VerifyResult(ok=True, used_backup_code=used_backup)


def email_in_use(email: str) -> bool:
    """Whether any account already uses this address (as its login or as one of its emails)."""
    from allauth.account.models import EmailAddress

    return (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )
