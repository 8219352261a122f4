"""Request id and one log line per request; private pages by default."""

from __future__ import annotations

import codecs
import logging
import re
import time
import uuid

from django.utils.cache import patch_cache_control

from outsmart.logging import set_request_id

logger = logging.getLogger("outsmart.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives each request an id (a proxy's X-Request-ID when well-formed), exposes it as
    `request.request_id`, in every log line and in the response header, and logs the request
    by its URL *pattern*: concrete paths can carry tokens and never reach the log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            match = getattr(request, "resolver_match", None)
            route = f"{match.route}" if match and match.route else "<unresolved>"
            logger.info(
                "%s /%s %s %.1fms",
                request.method,
                route,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            set_request_id(None)


class PrivatePagesMiddleware:
    """Every page this application renders is about someone (a clinic's team, a patient's
    chart, a portal dashboard) or carries a form with a CSRF token, so no response may be kept
    by a browser or a shared cache unless a view says otherwise. Static files never reach this
    middleware: WhiteNoise, above it, answers them with their own long-lived caching.

    A response to an address that carries a secret (settings.SECRET_PATHS: access links,
    invitation links, password-reset keys) also gets `Referrer-Policy: no-referrer`, so the
    address never travels on as a Referer. Those views answer with a redirect to an address
    without the secret (the pattern of Django's own password reset), so the page the person
    then sees can keep a same-origin policy: under no-referrer a browser sends `Origin: null`
    with the page's own form posts, and CSRF protection rightly refuses them."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.secret_paths = [re.compile(pattern) for pattern in settings.SECRET_PATHS]

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            patch_cache_control(response, no_store=True, private=True)
        if any(pattern.match(request.path_info) for pattern in self.secret_paths):
            patch_cache_control(response, no_store=True, private=True)
            response["Referrer-Policy"] = "no-referrer"
        return response


def unreadable_charset(charset: str) -> bool:
    """Whether `charset` names a codec Python knows that cannot decode a form: no text
    encoding at all (rot13, base64, zlib…), or one that cannot replace what it fails to decode
    (idna, punycode). Django takes such a charset and then fails while decoding, a 500. (An
    unknown name is no problem: Django ignores it.)"""
    if not charset:
        return False
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    try:
        b"a\xff".decode(charset, "replace")
    except (LookupError, UnicodeError):
        return True
    return False


class RequestCharsetMiddleware:
    """A request declaring a charset `unreadable_charset` names is read as UTF-8, as Django
    reads one declaring an unknown charset. This runs before anything reads the request's
    data (the CSRF check reads a POST's body; so does the 400 page, hence no 400 here).
    outsmart.wsgi refuses such a request earlier when it has a query string: Django decodes
    that while it builds the request, before any middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if unreadable_charset(request.encoding or ""):
            request.encoding = None
        return self.get_response(request)
