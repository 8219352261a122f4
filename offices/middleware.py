"""Clinic sessions end after CLINIC_IDLE_TIMEOUT without a request."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

from offices.access import SESSION_KEY
from outsmart.audit.services import audit_record

LAST_SEEN = "clinic_last_seen"
# Write the timestamp at most this often, so most requests do not write the session.
RESOLUTION = 60


class ClinicIdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = int(time.time())
            last = session.get(LAST_SEEN)
            if last is not None and now - last > settings.CLINIC_IDLE_TIMEOUT:
                audit_record(action="auth.idle_timeout", actor=user, target=user, request=request)
                logout(request)
                messages.info(
                    request,
                    "You were logged out after 30 minutes without activity. "
                    "Log in again to continue.",
                )
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if (
            session is not None
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
            and session.get(SESSION_KEY) is not None
        ):
            now = int(time.time())
            last = session.get(LAST_SEEN)
            if last is None or now - last >= RESOLUTION:
                session[LAST_SEEN] = now
        return response
