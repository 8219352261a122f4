"""Outgoing SMS, modelled on Django's email backends: `send_sms()` hands an SmsMessage to the
backend that settings.SMS_BACKEND names.

The body carries a patient's access code, so neither it nor the number is ever logged, and an
SmsError says what went wrong without them.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import re
import ssl
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import unquote, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# North American numbers: the area code and the exchange both start with 2-9, so a European
# local number such as 06 12 34 56 78 is not mistaken for one.
NANP = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")
DIGITS = frozenset("0123456789")
SEPARATORS = frozenset(" .-()")


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164, e.g. "+15145550123"
    body: str


# What LocmemBackend sent, like django.core.mail.outbox. Empty it with `outbox.clear()`, not by
# rebinding, so that every module holding a reference sees the same list.
outbox: list[SmsMessage] = []


class SmsError(Exception):
    """Sending failed. `transient` says whether a later retry may succeed (provider down,
    timeout, 429, 5xx) or not (4xx other than 429: bad number, bad credentials). `kind` is for
    an admin to read; it never holds the message body or the number."""

    def __init__(self, kind: str, *, transient: bool):
        super().__init__(kind)
        self.kind = kind
        self.transient = transient

    def __reduce__(self):
        # The keyword-only argument would be lost by Exception's pickling (Celery, copy).
        return functools.partial(SmsError, transient=self.transient), (self.kind,)


def phone_normalise(value: str) -> str | None:
    """A mobile number as E.164 ("+" and 8-15 digits), or None when it cannot be one.

    Spaces, dots, dashes and parentheses are ignored; "00" stands for "+"; without either, a
    10-digit number is North American (+1), as is an 11-digit one starting with 1."""
    text = value.strip(" ")
    prefix = ""
    if text.startswith("+"):
        prefix, text = "+", text[1:]
    if not text or any(char not in DIGITS and char not in SEPARATORS for char in text):
        return None
    digits = "".join(char for char in text if char in DIGITS)
    if prefix:
        number = "+" + digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif len(digits) == 10:
        number = "+1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        number = "+" + digits
    else:
        return None  # a local number of some other country: its country code is unknown
    if not E164.fullmatch(number):
        return None
    if number.startswith("+1") and not NANP.fullmatch(number):
        return None
    return number


def send_sms(to: str, body: str) -> None:
    """Send one SMS through settings.SMS_BACKEND; `to` must already be E.164 (phone_normalise).
    Raises SmsError."""
    if phone_normalise(to) != to:
        raise SmsError("recipient is not a mobile number in E.164 form", transient=False)
    backend = import_string(settings.SMS_BACKEND)()
    backend.send(SmsMessage(to=to, body=body))


class BaseSmsBackend:
    def send(self, message: SmsMessage) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    """Prints each message, for `make run`."""

    _lock = threading.Lock()  # keeps messages sent from two threads from interleaving

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, message: SmsMessage) -> None:
        with self._lock:
            self.stream.write(f"SMS to {message.to}\n{message.body}\n{'-' * 79}\n")
            self.stream.flush()


class LocmemBackend(BaseSmsBackend):
    """Keeps each message in `outbox`, for tests."""

    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn the POST into a body-less GET and carry the Authorization header to
    # wherever the redirect points; a 3xx is reported as an answer instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class HttpBackend(BaseSmsBackend):
    """POSTs {"to": ..., "body": ...} as JSON to the provider's endpoint in settings.SMS_URL,
    with the URL's user and password sent as HTTP Basic auth, never in the request line."""

    def __init__(self, url: str | None = None, timeout: float | None = None):
        parts = urlsplit(url if url is not None else settings.SMS_URL)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ImproperlyConfigured("HttpBackend needs SMS_URL to be an http(s):// URL.")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        self.endpoint = urlunsplit(parts._replace(netloc=netloc, fragment=""))
        self.authorization = ""
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.timeout = timeout if timeout is not None else getattr(settings, "SMS_TIMEOUT", 10)

    def send(self, message: SmsMessage) -> None:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "OutSmart",
        }
        if self.authorization:
            headers["Authorization"] = self.authorization
        request = urllib.request.Request(  # noqa: S310 (__init__ allows only http and https)
            self.endpoint,
            data=json.dumps({"to": message.to, "body": message.body}).encode(),
            headers=headers,
            method="POST",
        )
        # The reply is never read: nothing in it is needed, and it may echo the number.
        try:
            _opener.open(request, timeout=self.timeout).close()
        except urllib.error.HTTPError as exc:
            exc.close()
            transient = exc.code == 429 or exc.code >= 500
            raise SmsError(f"SMS provider answered {exc.code}", transient=transient) from None
        except urllib.error.URLError as exc:
            raise _network_error(exc.reason) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(exc) from exc


def _network_error(reason: object) -> SmsError:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return SmsError("SMS provider certificate not trusted", transient=False)
    if isinstance(reason, TimeoutError):
        return SmsError("SMS provider timed out", transient=True)
    if isinstance(reason, http.client.HTTPException):
        return SmsError("SMS provider sent a malformed reply", transient=True)
    return SmsError("SMS provider unreachable", transient=True)
