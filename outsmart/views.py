from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def home(request: HttpRequest) -> HttpResponse:
    """Where "OutSmart" in the header leads: the login page, or the person's own start page."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    from offices.access import current_membership

    membership = current_membership(request)
    if membership is None:
        from portal.models import PortalAccess

        # A patient (portal grants, no office) starts on the portal's Dashboard.
        if PortalAccess.objects.filter(user=request.user).exists():
            return redirect("portal:dashboard")
        return redirect("accounts:overview")
    if membership.is_admin and not membership.office.is_set_up:
        return redirect("offices:edit")
    return redirect("offices:detail")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
