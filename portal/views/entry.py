"""The portal's ways in: log in, Register Here with an access code, +Access Code, and the
access links emailed or texted by a practitioner."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.account.views import LoginView
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accesscodes import services as codes
from accesscodes.models import AccessCode
from accesscodes.words import CodeFormatError
from outsmart.http import client_ip, link_remember, link_remembered
from outsmart.views import temporarily_unavailable
from portal import services as portal_services
from portal.access import (
    LINK_CODE_KEY,
    LINK_CODE_TTL,
    no_store,
    portal_page,
    portal_view,
    session_form_code_add,
)
from portal.forms import AccessCodeForm, DateOfBirthForm, RegisterForm
from portal.models import PortalAccess

ACCOUNT_EXISTS = (
    "An account already uses this email address. Log in, then use the green “+Access Code” "
    "button to add this code."
)


class PortalLoginView(LoginView):
    """The patient portal's front door: log in, or "Register Here" at the bottom."""

    template_name = "portal/login.html"

    def get_success_url(self) -> str:
        return super().get_success_url() or reverse("portal:dashboard")

    def dispatch(self, request, *args, **kwargs):
        return no_store(super().dispatch(request, *args, **kwargs))


def _identifier(request: HttpRequest, email: str = "") -> str | None:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"email:{email.lower()}" if email else None


def _throttled(request: HttpRequest, error: codes.Throttled) -> HttpResponse:
    if isinstance(error, codes.CheckUnavailable):  # the failure counters are away: 503
        return temporarily_unavailable(request, error.message)
    return render(request, "429.html", {"retry_after_minutes": error.minutes}, status=429)


def _link_code(request: HttpRequest) -> AccessCode | None:
    """The medical-records code whose link this browser opened within the last hour."""
    marker = link_remembered(request, LINK_CODE_KEY, LINK_CODE_TTL)
    if marker is None:
        return None
    return (
        AccessCode.objects.select_related("office", "patient", "issued_by")
        .filter(pk=marker.get("id"), kind=AccessCode.Kind.MEDICAL_RECORDS)
        .first()
    )


def _connected_message(redemption: codes.Redemption) -> str:
    access_code = redemption.access_code
    if access_code.is_medical_records:
        return (
            f"Done: {access_code.patient.full_name}'s records at {access_code.office.name} "
            "are now on your Dashboard."
        )
    return (
        f"Done: the questionnaire “{access_code.form_request.title}” from "
        f"{access_code.office.name} is now on your Dashboard."
    )


@portal_page
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Register Here: the account and its first access grant, in one transaction, only with a
    valid access code (typed, or from an access link opened in this browser)."""
    if request.user.is_authenticated:
        messages.info(request, "You already have an account: add a code with “+Access Code”.")
        return redirect("portal:access_code")
    link_code = _link_code(request)
    form = RegisterForm(request.POST if request.method == "POST" else None, link_code=link_code)
    if request.method == "POST" and form.is_valid():
        try:
            return _register(request, form, link_code)
        except codes.Throttled as error:
            return _throttled(request, error)
        except codes.RedeemError as error:
            target = "date_of_birth" if error.reason == "dob_mismatch" else "code_1"
            form.add_error(None if link_code else target, error.message)
        except CodeFormatError as error:
            form.add_error("code_1", str(error))
        except portal_services.AccountExists:
            form.add_error("email", ACCOUNT_EXISTS)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "portal/register.html", _register_context(form, link_code), status=status
    )


def _register_context(form: RegisterForm, link_code: AccessCode | None) -> dict:
    # The password is never sent back into the page.
    if form.is_bound:
        form.data = form.data.copy()
        form.data.pop("password", None)
    return {"form": form, "link_code": link_code}


def _register(request: HttpRequest, form: RegisterForm, link_code: AccessCode | None):
    data = form.cleaned_data
    user, redemption = portal_services.patient_register(
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        password=data["password"],
        date_of_birth=data["date_of_birth"],
        typed=None if link_code else list(form.parsed_code.words),
        code_id=link_code.pk if link_code else None,
        ip=client_ip(request),
        identifier=_identifier(request, data["email"]),
        request=request,
    )
    from allauth.account.internal.flows.email_verification import (
        send_verification_email_to_address,
    )

    send_verification_email_to_address(request, EmailAddress.objects.get(user=user), signup=True)
    request.session.pop(LINK_CODE_KEY, None)
    get_adapter().login(request, user)
    messages.success(request, "Welcome to the patient portal. " + _connected_message(redemption))
    access_code = redemption.access_code
    if not access_code.is_medical_records:
        return redirect("portal:form", form_request_id=access_code.form_request_id)
    return redirect("portal:dashboard")


@portal_view
@require_http_methods(["GET", "POST"])
def access_code_add(request: HttpRequest) -> HttpResponse:
    """+Access Code: connect another record (another clinic, a child) or a Smart Form."""
    ask_dob = request.method == "POST" and bool(request.POST.get("date_of_birth"))
    form = AccessCodeForm(
        request.POST if request.method == "POST" else None, ask_date_of_birth=ask_dob
    )
    if request.method == "POST" and form.is_valid():
        try:
            redemption = codes.access_code_redeem(
                typed=list(form.parsed_code.words),
                date_of_birth=form.cleaned_data.get("date_of_birth"),
                user=request.user,
                ip=client_ip(request),
                identifier=_identifier(request),
                request=request,
            )
        except codes.Throttled as error:
            return _throttled(request, error)
        except codes.DateOfBirthNeeded:
            form.ask_date_of_birth = True
            return render(request, "portal/access_code.html", {"form": form, "dob_needed": True})
        except codes.RedeemError as error:
            form.ask_date_of_birth = form.ask_date_of_birth or error.reason == "dob_mismatch"
            field = "date_of_birth" if error.reason == "dob_mismatch" else "code_1"
            form.add_error(field, error.message)
        else:
            messages.success(request, _connected_message(redemption))
            return redirect("portal:dashboard")
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/access_code.html", {"form": form}, status=status)


@portal_page
@require_http_methods(["GET", "HEAD"])
def link_landing(request: HttpRequest, token: str) -> HttpResponse:
    """Where an access link leads. A GET uses nothing: a Smart Form link opens its form for
    this browser session; a records link shows what it unlocks and offers to create an account
    or log in (the code is used only after that, with the date of birth)."""
    try:
        access_code = codes.access_link_preview(token=token, ip=client_ip(request), request=request)
    except codes.Throttled as error:
        return _throttled(request, error)
    except codes.RedeemError as error:
        status = 404 if error.reason == "unknown" else 410
        return render(
            request,
            "portal/link_problem.html",
            {"message": error.message, "reason": error.reason},
            status=status,
        )
    if not access_code.is_medical_records:
        session_form_code_add(request, access_code)
        return redirect("portal:form", form_request_id=access_code.form_request_id)
    link_remember(request, LINK_CODE_KEY, id=access_code.pk)
    request.session.cycle_key()
    # The landing page itself lives at an address without the token (portal:link_continue);
    # the token's own address answers no-referrer (outsmart.middleware.PrivatePagesMiddleware).
    return redirect("portal:link_continue")


def _landing_context(request: HttpRequest, access_code: AccessCode) -> dict:
    tz = ZoneInfo(access_code.office.time_zone)
    issuer = access_code.issued_by
    return {
        "access_code": access_code,
        "office": access_code.office,
        "issuer": issuer.get_full_name() or issuer.email,
        "expires": access_code.expires_at.astimezone(tz),
        "dob_form": DateOfBirthForm() if request.user.is_authenticated else None,
        "login_url": reverse("portal:login") + "?next=" + reverse("portal:link_continue"),
    }


@portal_page
@require_http_methods(["GET", "POST"])
def link_continue(request: HttpRequest) -> HttpResponse:
    """The landing page of a records link opened in this browser: what it unlocks, with
    "Create an account" / "Log in"; once logged in, the date of birth, then the access."""
    if request.method == "POST" and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("portal:login"))
    access_code = _link_code(request)
    if access_code is None:
        return render(
            request,
            "portal/link_problem.html",
            {
                "message": "Open the access link from your email again: for your security it "
                "is remembered here for one hour only.",
                "reason": "session",
            },
            status=410,
        )
    form = DateOfBirthForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            redemption = codes.access_code_redeem(
                code_id=access_code.pk,
                date_of_birth=form.cleaned_data["date_of_birth"],
                user=request.user,
                ip=client_ip(request),
                identifier=_identifier(request),
                via=PortalAccess.Via.LINK,
                request=request,
            )
        except codes.Throttled as error:
            return _throttled(request, error)
        except codes.RedeemError as error:
            if error.reason != "dob_mismatch":
                request.session.pop(LINK_CODE_KEY, None)
                return render(
                    request,
                    "portal/link_problem.html",
                    {"message": error.message, "reason": error.reason},
                    status=410,
                )
            form.add_error("date_of_birth", error.message)
        else:
            request.session.pop(LINK_CODE_KEY, None)
            messages.success(request, _connected_message(redemption))
            return redirect("portal:dashboard")
    context = _landing_context(request, access_code)
    context["dob_form"] = form
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/link_landing.html", context, status=status)


__all__ = [
    "PortalLoginView",
    "access_code_add",
    "link_continue",
    "link_landing",
    "register",
]
