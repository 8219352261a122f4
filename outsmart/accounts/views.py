"""Account pages of our own: overview, two-factor set-up and verification."""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from outsmart.accounts import services
from outsmart.accounts.backup_codes import display
from outsmart.accounts.forms import SetupForm, TokenForm
from outsmart.accounts.models import BackupCode
from outsmart.accounts.policy import has_authenticator, two_factor_required
from outsmart.http import safe_next_url
from outsmart.views import temporarily_unavailable


def _next_url(request: HttpRequest, default: str = "home") -> str:
    return safe_next_url(request, reverse(default))


def _backup_codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    response = render(
        request,
        "accounts/backup_codes.html",
        {"codes": [display(c) for c in codes], "next_url": next_url},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@never_cache
def overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "accounts/overview.html",
        {
            "has_authenticator": has_authenticator(user),
            "two_factor_required": two_factor_required(user),
            "backup_codes_left": BackupCode.objects.filter(
                device__user=user, used_at__isnull=True
            ).count(),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if has_authenticator(user):
        messages.info(request, "Two-factor authentication is already on for your account.")
        return redirect("accounts:overview")
    next_url = _next_url(request)
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.two_factor_enable(
            user=user, token=form.cleaned_data["code"].strip(), request=request
        )
        if result.ok:
            messages.success(request, "Two-factor authentication is on.")
            return _backup_codes_page(request, result.backup_codes, next_url)
        form.add_error(
            "code",
            "That code did not match. Check that your phone's clock is right and enter the "
            "code your app shows now.",
        )
    device = services.totp_device_pending(user=user)
    qr = segno.make(device.config_url, error="m")
    secret = base64.b32encode(device.bin_key).decode()
    response = render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, dark="#111", light="#fff", title="QR code"),
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "required": two_factor_required(user),
            "next_url": next_url,
            "issuer": settings.OTP_TOTP_ISSUER,
        },
        status=200 if request.method == "GET" or form.is_valid() else 400,
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _next_url(request)
    if user.is_verified() or not has_authenticator(user):
        return redirect(next_url)
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = services.two_factor_verify(
            user=user, token=form.cleaned_data["code"], request=request
        )
        if result.ok:
            if result.used_backup_code:
                messages.warning(
                    request,
                    "You signed in with a backup code. It cannot be used again; make new "
                    "codes from your account page when you run low.",
                )
            return redirect(next_url)
        if result.unavailable:
            return temporarily_unavailable(
                request, "Sign-in codes cannot be checked right now. Please try again in a minute."
            )
        if result.throttled:
            response = render(
                request,
                "429.html",
                {"retry_after_minutes": result.retry_after_minutes},
                status=429,
            )
            response["Retry-After"] = str(result.retry_after_minutes * 60)
            return response
        form.add_error("code", "That code is not right, or it was already used. Try again.")
        status = 400
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next_url": next_url},
        status=status,
    )


@login_required
@require_POST
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    if not has_authenticator(request.user):
        return redirect("accounts:two_factor_setup")
    codes = services.backup_codes_regenerate(user=request.user, request=request)
    messages.success(request, "New backup codes made. The old ones no longer work.")
    return _backup_codes_page(request, codes, _next_url(request, "accounts:overview"))


@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    if two_factor_required(request.user):
        messages.error(
            request, "Your office requires two-factor authentication, so it cannot be turned off."
        )
        return redirect("accounts:overview")
    services.two_factor_disable(user=request.user, request=request)
    messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:overview")
