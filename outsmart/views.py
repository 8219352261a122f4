from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from outsmart.http import safe_next_url


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


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for a load balancer or an orchestrator: the process answers through the whole
    middleware stack. Touches neither the database nor Redis, so a probe never adds load there
    (and the bench uses it as the ceiling: the cheapest request the stack can serve)."""
    return HttpResponse("ok", content_type="text/plain")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)


def admin_login(request: HttpRequest) -> HttpResponse:
    """Where the support admin sends people it does not let in: allauth's login (with its
    two-factor step). Someone already logged in who may not use the admin (a clinic user, a
    patient) gets a 403: sending them to the login page would send them straight back here."""
    from django.contrib import admin

    if not request.user.is_authenticated:
        query = request.META.get("QUERY_STRING", "")
        return redirect(reverse("account_login") + (f"?{query}" if query else ""))
    if admin.site.has_permission(request):
        return redirect(safe_next_url(request, reverse("admin:index")))
    return render(request, "403.html", status=403)


# --- error pages -----------------------------------------------------------------------------
# Rendered without the request's context processors: they must work while the database or Redis
# is away (a context processor would query them).
RETRY_AFTER = 60


def temporarily_unavailable(request: HttpRequest, message: str = "") -> HttpResponse:
    """503 with Retry-After: a dependency (database, Redis) is away; nothing was done."""
    from django.template import loader

    response = HttpResponse(
        loader.get_template("503.html").render({"message": message}), status=503
    )
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """handler400. Django's own reads the request's form again (for a CSRF token) and fails
    the same way when that form was the problem (a urlencoded body not in UTF-8, a body over
    the size limit): a 500 instead of the 400."""
    from django.template import loader

    return HttpResponse(loader.get_template("400.html").render(), status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A database that cannot be reached (restarting, failing over) is not a bug:
    the person gets the 503 page and is asked to retry, never a traceback; everything else gets
    the 500 page. Django calls this while it handles the exception, so sys.exc_info() has it."""
    import sys

    from django.db import InterfaceError, OperationalError
    from django.template import loader

    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return temporarily_unavailable(request)
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def too_many_requests(request: HttpRequest, exception=None) -> HttpResponse:
    """handler429, used by allauth's rate limits. Those fail closed while Redis is away
    (outsmart.cache): then the honest answer is "temporarily unavailable", not "too many"."""
    from outsmart.cache import cache_available

    if not cache_available():
        return temporarily_unavailable(
            request,
            "Signing in and account changes are briefly unavailable. Please try again in a minute.",
        )
    return render(request, "429.html", status=429)
