"""Request id and one log line per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

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
