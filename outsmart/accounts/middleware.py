"""Two-factor gate: a password-only session reaches nothing but the two-factor pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from outsmart.accounts.policy import has_authenticator, two_factor_required


class TwoFactorMiddleware:
    """After a password login, someone with an authenticator must verify it; someone the
    policy requires to use two-factor (support staff, clinic members) must set it up first.
    Until then every other URL, clinic side, portal and /admin/ alike, redirects here."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def exempt_prefixes(self) -> tuple[str, ...]:
        if self._exempt is None:
            self._exempt = (
                reverse("accounts:two_factor_setup"),
                reverse("accounts:two_factor_verify"),
                reverse("account_logout"),
                settings.STATIC_URL,
                "/dev/outbox/",
            )
        return self._exempt

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not request.path_info.startswith(self.exempt_prefixes())
        ):
            next_url = request.get_full_path() if request.method == "GET" else ""
            query = f"?{urlencode({'next': next_url})}" if next_url else ""
            if has_authenticator(user):
                return redirect(reverse("accounts:two_factor_verify") + query)
            if two_factor_required(user):
                return redirect(reverse("accounts:two_factor_setup") + query)
        return self.get_response(request)
