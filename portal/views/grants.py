"""My access: every grant of the account, with "Remove access" and "This wasn't me"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from portal import selectors, services
from portal.access import portal_view
from portal.models import PortalAccess


def _own_grant(request: HttpRequest, grant_id: int) -> PortalAccess:
    # Another account's grant answers 404, like one that does not exist.
    return get_object_or_404(
        PortalAccess.objects.select_related("patient__office", "form_request").defer(
            "form_request__questions", "form_request__answers"
        ),
        pk=grant_id,
        user=request.user,
    )


def _what(grant: PortalAccess) -> str:
    if grant.kind == PortalAccess.Kind.SMART_FORM:
        return f"the Smart Form “{grant.form_request.title}” for {grant.patient.full_name}"
    return f"{grant.patient.full_name}’s medical records"


@portal_view
@require_GET
def my_access(request: HttpRequest) -> HttpResponse:
    grants = selectors.grants_for(request.user)
    for grant in grants:
        grant.can_report_not_me = services.can_report_not_me(grant)
    return render(
        request,
        "portal/my_access.html",
        {
            "active": [g for g in grants if g.revoked_at is None],
            "revoked": [g for g in grants if g.revoked_at is not None],
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def access_remove(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = _own_grant(request, grant_id)
    if grant.revoked_at is not None:
        messages.info(request, f"Your access to {_what(grant)} was already removed.")
        return redirect("portal:my_access")
    if request.method == "POST":
        services.portal_access_remove(grant=grant, user=request.user, request=request)
        messages.success(
            request,
            f"Your access to {_what(grant)} at {grant.patient.office.name} was removed. "
            "To see it again, you will need a new access code from the clinic.",
        )
        return redirect("portal:my_access")
    return render(request, "portal/access_remove.html", {"grant": grant, "what": _what(grant)})


@portal_view
@require_http_methods(["GET", "POST"])
def access_not_me(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = _own_grant(request, grant_id)
    if not services.can_report_not_me(grant):
        if grant.revoke_reason == PortalAccess.RevokeReason.NOT_ME:
            messages.info(request, f"You already told {grant.patient.office.name} about this.")
        else:
            messages.info(
                request,
                f"{grant.patient.office.name} already cancelled this access. If you have "
                "questions about it, contact the clinic.",
            )
        return redirect("portal:my_access")
    if request.method == "POST":
        services.portal_access_not_me(grant=grant, user=request.user, request=request)
        messages.success(
            request,
            f"Thank you. The access to {_what(grant)} was removed and "
            f"{grant.patient.office.name} was told, so they can look into it.",
        )
        return redirect("portal:my_access")
    return render(request, "portal/access_not_me.html", {"grant": grant, "what": _what(grant)})
