"""`office_view`: what every clinic view is wrapped in.

It resolves the office the person is working in from the session, checked against the live
membership table on every request (no cached role), and answers for the named permission.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control

from offices.models import Membership
from offices.permissions import Perm, has_perm, membership_permissions
from offices.selectors import user_active_memberships
from outsmart.audit.services import audit_record

SESSION_KEY = "current_office_id"


def select_membership(memberships: list[Membership], selected) -> Membership | None:
    """The membership of the selected office, or the first one when it is not (or no longer)
    among the person's live memberships."""
    chosen = next((m for m in memberships if m.office_id == selected), None)
    return chosen or (memberships[0] if memberships else None)


def current_membership(request: HttpRequest) -> Membership | None:
    """The active membership of the office selected in this session (checked against the live
    table: one query), remembered in the session for the next request."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = user_active_memberships(user)
    membership = select_membership(memberships, request.session.get(SESSION_KEY))
    if membership is None:
        request.session.pop(SESSION_KEY, None)
    elif request.session.get(SESSION_KEY) != membership.office_id:
        request.session[SESSION_KEY] = membership.office_id
    request.clinic_memberships = memberships
    return membership


def permission_denied(request: HttpRequest, perm: Perm, *, target=None, patient=None):
    """The 403 page for a member who lacks `perm`; a denied change (POST) is audited. For an
    object the member may see but not handle, pass it as `target` (and its patient)."""
    if request.method == "POST":
        audit_record(
            action="access.denied",
            actor=request.user,
            office=request.membership.office,
            patient=patient,
            target=target,
            request=request,
            detail={"view": request.resolver_match.view_name, "needs": str(perm)},
        )
    return render(request, "403.html", status=403)


def office_view(perm: Perm) -> Callable:
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = current_membership(request)
            if membership is None:
                return render(request, "offices/no_office.html", status=403)
            request.membership = membership
            request.office = membership.office
            request.office_perms = membership_permissions(membership)
            if not has_perm(membership, perm):
                return permission_denied(request, perm)
            # Clinic pages show times in the office's own time zone.
            with timezone.override(zoneinfo.ZoneInfo(membership.office.time_zone)):
                response = view(request, *args, **kwargs)
            # Clinic pages hold office and patient data: never kept by a browser or a proxy.
            patch_cache_control(response, no_store=True)
            return response

        wrapped.office_permission = perm
        return wrapped

    return decorator
