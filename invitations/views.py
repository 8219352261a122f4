"""Invitations: the admin's side (invite, resend, revoke) and the invitee's (the link's landing
page, registration, review request, approve and decline)."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from invitations import services
from invitations.forms import InviteForm, RegisterForm, ReviewRequestForm
from invitations.models import Invitation
from invitations.selectors import user_pending_invitations
from offices.access import SESSION_KEY, office_view
from offices.forms import team_return_url
from offices.models import Role
from offices.permissions import Perm
from outsmart import ratelimit
from outsmart.accounts.policy import has_authenticator
from outsmart.http import client_ip, link_remember, link_remembered
from outsmart.tokens import looks_like_token

# Wrong links per IP: a token cannot be guessed, but nobody needs to try a thousand.
BAD_LINK_LIMIT = ratelimit.Limit("invitation_bad_link", 60, 60 * 60)
# Registrations and review requests per IP.
REGISTER_LIMIT = ratelimit.Limit("invitation_register", 20, 60 * 60)
REVIEW_LIMIT = ratelimit.Limit("invitation_review", 10, 60 * 60)


# --- the admin's side ------------------------------------------------------------------------
@office_view(Perm.MANAGE_TEAM)
@require_http_methods(["GET", "POST"])
def invitation_create(request: HttpRequest, role: str) -> HttpResponse:
    if role not in Role.values:
        raise Http404("No such role.")
    office = request.office
    if not office.is_set_up:
        messages.error(
            request, "Complete your office setup before inviting practitioners and staff."
        )
        return redirect("offices:edit")
    form = InviteForm(request.POST or None)
    existing = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = services.invitation_create(
                office=office,
                email=data["email"],
                role=role,
                invited_by=request.user,
                name=data["name"],
                message=data["message"],
                request=request,
            )
        except services.AlreadyInvited as error:
            existing = error.invitation
            form.add_error("email", str(error))
        except services.AlreadyMember as error:
            form.add_error("email", str(error))
        except services.InvitationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"Invitation to {invitation.email} saved. Its email is on its way; you can follow "
                "its delivery below.",
            )
            return redirect("offices:team")
    return render(
        request,
        "invitations/create.html",
        {
            "form": form,
            "tab": "team",
            "role": role,
            "role_title": "Practitioner" if role == Role.PRACTITIONER else "Staff",
            "existing": existing,
        },
        status=400 if form.is_bound else 200,
    )


def _office_invitation(request: HttpRequest, invitation_id: int) -> Invitation:
    # Another office's invitation answers 404, like one that does not exist.
    return get_object_or_404(Invitation, pk=invitation_id, office=request.office)


@office_view(Perm.MANAGE_TEAM)
@require_POST
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _office_invitation(request, invitation_id)
    try:
        services.invitation_resend(invitation=invitation, actor=request.user, request=request)
    except services.InvitationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Invitation to {invitation.email} sent again with a new link. The old link no "
            "longer works.",
        )
    return redirect(team_return_url(request.GET))


@office_view(Perm.MANAGE_TEAM)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _office_invitation(request, invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
    except services.InvitationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Invitation to {invitation.email} revoked. Its link no longer works."
        )
    return redirect(team_return_url(request.GET))


# --- the invitee's side ----------------------------------------------------------------------
# The link's address carries the token. Its response says `Referrer-Policy: no-referrer` and
# sends the browser on to the same page at an address without the token, remembering in the
# session which invitation was opened (its id and keyed hash, never the token). The pages there
# can then post their forms with a same-origin Origin, which CSRF protection requires.
LINK_SESSION_KEY = "invitation_link"  # {"id": pk, "digest": token_digest, "at": epoch}
LINK_SESSION_TTL = 60 * 60  # seconds an opened link stays ready for register / review
LINK_STEPS = {
    "": "invitee:open",
    "register/": "invitee:open_register",
    "review/": "invitee:open_review",
}


def _link_problem(request: HttpRequest, problem: str, invitation=None, status=404):
    return render(
        request,
        "invitations/link_problem.html",
        {"problem": problem, "invitation": invitation},
        status=status,
    )


def _resolve_link(
    request: HttpRequest, token: str
) -> tuple[Invitation | None, HttpResponse | None]:
    """The open invitation behind `token`, or the page that explains why there is none."""
    ip = client_ip(request) or "unknown"
    if not ratelimit.check(BAD_LINK_LIMIT, ip).allowed:
        return None, render(request, "429.html", status=429)
    if not looks_like_token(token):
        ratelimit.hit(BAD_LINK_LIMIT, ip)
        return None, _link_problem(request, "malformed")
    invitation = services.invitation_by_token(token)
    if invitation is None:
        ratelimit.hit(BAD_LINK_LIMIT, ip)
        return None, _link_problem(request, "unknown")
    if not invitation.is_open:
        return None, _link_problem(request, invitation.effective_status, invitation, status=410)
    return invitation, None


def _opened_invitation(request: HttpRequest) -> tuple[Invitation | None, HttpResponse | None]:
    """The invitation whose link this browser opened in the last hour, if it is still open
    and its link still the current one (Resend draws a new token: the old one stops here too)."""
    marker = link_remembered(request, LINK_SESSION_KEY, LINK_SESSION_TTL)
    if marker is None:
        return None, _link_problem(request, "session", status=410)
    invitation = (
        Invitation.objects.select_related("office", "invited_by")
        .filter(pk=marker.get("id"), token_digest=marker.get("digest"))
        .first()
    )
    if invitation is None:
        request.session.pop(LINK_SESSION_KEY, None)
        return None, _link_problem(request, "unknown")
    if not invitation.is_open:
        return None, _link_problem(request, invitation.effective_status, invitation, status=410)
    return invitation, None


def _is_addressed_to(invitation: Invitation, user) -> bool:
    return Invitation.objects.for_emails_of(user).filter(pk=invitation.pk).exists()


@never_cache
@require_http_methods(["GET", "HEAD"])
def landing(request: HttpRequest, token: str, step: str = "") -> HttpResponse:
    """What the link in the email opens. A GET never changes the invitation (mail scanners
    open links too): it is recorded as viewed and the browser goes on to the landing page."""
    invitation, problem = _resolve_link(request, token)
    if problem:
        return problem
    services.invitation_viewed(invitation=invitation, request=request)
    link_remember(request, LINK_SESSION_KEY, id=invitation.pk, digest=invitation.token_digest)
    return redirect(LINK_STEPS[step])


@never_cache
def opened(request: HttpRequest) -> HttpResponse:
    """The landing page of the invitation opened in this browser: create an account, log in
    to accept, or (logged in as someone else) log out and come back."""
    invitation, problem = _opened_invitation(request)
    if problem:
        return problem
    user = request.user
    context = {
        "invitation": invitation,
        "link": reverse("invitee:landing", args=[invitation.token]),
    }
    if user.is_authenticated:
        context["addressed_to_you"] = _is_addressed_to(invitation, user)
    else:
        context["account_exists"] = services.email_in_use(invitation.email)
        context["login_url"] = (
            reverse("account_login")
            + "?"
            + urlencode({"next": reverse("invitee:detail", args=[invitation.pk])})
        )
    return render(request, "invitations/landing.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """ "Create your account": the registration form with the invited email fixed and the
    security code from the link filled in. The only way to create a clinic account."""
    invitation, problem = _opened_invitation(request)
    if problem:
        return problem
    if request.user.is_authenticated or services.email_in_use(invitation.email):
        return redirect("invitee:open")
    token = invitation.token
    form = RegisterForm(request.POST or None, invitation=invitation, token=token)
    if request.method == "POST":
        verdict = ratelimit.hit(REGISTER_LIMIT, client_ip(request) or "unknown")
        if not verdict.allowed:
            return render(request, "429.html", status=429)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.invitation_register(
                    invitation=invitation,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    password=data["password1"],
                    request=request,
                )
            except services.InvitationError as error:
                form.add_error(None, str(error))
            else:
                get_adapter(request).login(request, user)
                approve = reverse("invitee:detail", args=[invitation.pk])
                if invitation.office.require_two_factor:
                    messages.success(
                        request,
                        f"Your account is ready. {invitation.office.name} asks everyone to use "
                        "two-factor authentication: set it up now, then approve the invitation.",
                    )
                    return redirect(
                        reverse("accounts:two_factor_setup") + "?" + urlencode({"next": approve})
                    )
                messages.success(request, "Your account is ready.")
                return redirect(approve)
    return render(
        request,
        "invitations/register.html",
        {"form": form, "invitation": invitation},
        status=400 if form.is_bound else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def review_request(request: HttpRequest) -> HttpResponse:
    """ "Request a review": the invited address is used by an account that is not the
    invitee's. Support sees the request in the admin."""
    invitation, problem = _opened_invitation(request)
    if problem:
        return problem
    if not services.email_in_use(invitation.email):
        return redirect("invitee:open")
    form = ReviewRequestForm(request.POST or None)
    if request.method == "POST":
        if not ratelimit.hit(REVIEW_LIMIT, client_ip(request) or "unknown").allowed:
            return render(request, "429.html", status=429)
        if form.is_valid():
            try:
                services.review_request_create(
                    invitation=invitation,
                    contact_email=form.cleaned_data["contact_email"],
                    note=form.cleaned_data["note"],
                    request=request,
                )
            except services.InvitationError as error:
                form.add_error(None, str(error))
            else:
                return render(request, "invitations/review_sent.html", {"invitation": invitation})
    return render(
        request,
        "invitations/review_request.html",
        {"form": form, "invitation": invitation},
        status=400 if form.is_bound else 200,
    )


@login_required
@never_cache
def mine(request: HttpRequest) -> HttpResponse:
    """Every pending invitation for the person's verified addresses, with Approve / Decline."""
    return render(
        request,
        "invitations/mine.html",
        {"invitations": user_pending_invitations(request.user)},
    )


def _for_user_or_404(request: HttpRequest, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_related("office", "invited_by")
        .for_emails_of(request.user)
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:  # not addressed to this person: as if it did not exist
        raise Http404("No such invitation.")
    return invitation


@login_required
@never_cache
def detail(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """The invitation's Approve page."""
    invitation = _for_user_or_404(request, invitation_id)
    return render(
        request,
        "invitations/detail.html",
        {
            "invitation": invitation,
            "closed_reason": None if invitation.is_open else services.closed_reason(invitation),
        },
    )


def _second_factor_first(request: HttpRequest, invitation: Invitation) -> HttpResponse | None:
    """An office that requires two-factor gets members who have it: set it up (or verify it)
    before approving."""
    if not invitation.office.require_two_factor or request.user.is_verified():
        return None
    back = reverse("invitee:detail", args=[invitation.pk])
    step = "two_factor_verify" if has_authenticator(request.user) else "two_factor_setup"
    messages.info(
        request,
        f"{invitation.office.name} requires two-factor authentication. "
        "Set it up first, then approve the invitation.",
    )
    return redirect(reverse(f"accounts:{step}") + "?" + urlencode({"next": back}))


@login_required
@require_POST
def approve(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _for_user_or_404(request, invitation_id)
    if invitation.is_open and (detour := _second_factor_first(request, invitation)):
        return detour
    try:
        membership = services.invitation_accept(
            invitation_id=invitation.pk, user=request.user, request=request
        )
    except services.NotYours:
        raise Http404("No such invitation.") from None
    except services.InvitationError as error:
        messages.error(request, str(error))
        return redirect("invitee:detail", invitation_id=invitation.pk)
    request.session[SESSION_KEY] = membership.office_id
    messages.success(request, f"You joined {membership.office.name}. Welcome!")
    return redirect("home")


@login_required
@require_POST
def decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _for_user_or_404(request, invitation_id)
    try:
        services.invitation_decline(invitation_id=invitation.pk, user=request.user, request=request)
    except services.NotYours:
        raise Http404("No such invitation.") from None
    except services.InvitationError as error:
        messages.error(request, str(error))
        return redirect("invitee:detail", invitation_id=invitation.pk)
    messages.info(request, f"You declined the invitation to {invitation.office.name}.")
    return redirect("invitee:list")
