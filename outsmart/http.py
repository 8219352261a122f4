"""Request helpers: the client address (audit log, rate limits) and safe `next` redirects."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind NUM_PROXIES trusted proxies, the address the outermost
    trusted proxy saw; never a value the client can choose."""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter (POST, else GET) when it is a path on this site, else `fallback`:
    never a redirect to another site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def private_file_response(handle, *, filename: str, content_type: str):
    """A private file (a patient's document) as a download that no browser renders in the
    site's origin."""
    from django.http import FileResponse

    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Should a browser ever render it anyway, it gets no script and no same-origin access.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
