"""Request helpers: the client address (audit log, rate limits) and safe `next` redirects."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
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


def reverse_for_ids(viewname: str) -> Callable[[int], str]:
    """`reverse(viewname, args=[id])` for many ids at the cost of one reverse: for pages that
    link every row of a long list (the 600-row Practitioners and Staff tab spent half its
    rendering time in 900 `{% url %}` tags, bench/)."""
    marker = 987654321987
    head, found, tail = reverse(viewname, args=[marker]).partition(str(marker))
    if not found:
        raise ValueError(f"{viewname} does not show its id in the URL")
    return lambda pk: f"{head}{int(pk)}{tail}"


def link_remember(request: HttpRequest, key: str, **ids) -> None:
    """Remember in the session that this browser opened a secret link, by ids (never the
    token), so the pages behind it live at addresses without the token (see
    outsmart.middleware.PrivatePagesMiddleware)."""
    request.session[key] = {**ids, "at": time.time()}


def link_remembered(request: HttpRequest, key: str, ttl: int) -> dict | None:
    """What `link_remember` kept under `key`, if it is younger than `ttl` seconds."""
    marker = request.session.get(key)
    if not isinstance(marker, dict) or time.time() - marker.get("at", 0) > ttl:
        return None
    return marker
