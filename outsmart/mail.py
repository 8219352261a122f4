"""Outgoing email: rendered in the request, sent by a Celery worker after the transaction commits.

One template set per email: templates/emails/<name>.subject.txt, <name>.txt and <name>.html (the
HTML extends emails/base.html). The text part is rendered without HTML escaping.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Template
from django.template.loader import get_template, render_to_string

logger = logging.getLogger(__name__)

RETRY_BACKOFF = 30  # seconds; doubles each try
RETRY_BACKOFF_MAX = 15 * 60
MAX_RETRIES = 5


def is_transient(exc: BaseException) -> bool:
    """Worth another try later: the server is away, busy, or answered 4xx. A setup problem
    (no STARTTLS, no usable login, a bad certificate) is not: retrying cannot fix it."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    # Both are OSError subclasses, so they must be ruled out before the OSError line below.
    if isinstance(exc, smtplib.SMTPException | ssl.SSLError):
        return False
    return isinstance(exc, OSError)  # refused, timed out, no route, name not resolved


def error_kind(exc: BaseException) -> str:
    """What went wrong, in words an admin can act on; never the server's full reply (it may
    echo the address or message)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"address refused ({', '.join(str(c) for c in codes)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"mail server answered {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "mail server unreachable"
    if isinstance(exc, ssl.SSLError):
        return "mail server TLS error"
    if isinstance(exc, smtplib.SMTPException):
        return "mail server setup error (TLS or login)"
    if isinstance(exc, OSError):
        return "mail server unreachable"
    return type(exc).__name__[:64]


def message_build(*, to: list[str], subject: str, text: str, html: str = ""):
    email = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    if html:
        email.attach_alternative(html, "text/html")
    return email


def message_send(email: EmailMultiAlternatives) -> Callable[[], None]:
    """Send `email`; return the function that then says goodbye to the mail server (QUIT).

    Once the server has accepted the message (its answer to DATA), the message is sent, whatever
    the goodbye brings. A task that records "sent" on a row calls the returned function only
    after that record: a worker that dies while a slow server says goodbye then leaves the row
    "sent", not "sending" for the sweep to send a second copy. What is left is the moment
    between the server's acceptance and the record (one UPDATE), which no SMTP client can close.
    """
    connection = email.get_connection()
    try:
        connection.open()
        connection.send_messages([email])
    except BaseException:
        _close_quietly(connection)
        raise
    return partial(_close_quietly, connection)


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception as exc:
        logger.warning("mail server goodbye failed (%s) after sending", type(exc).__name__)


def _render_text(template_name: str, context: dict[str, Any]) -> str:
    # Text parts must not be HTML-escaped: re-render the source with autoescape off.
    source = get_template(template_name).template.source
    return Template("{% autoescape off %}" + source + "{% endautoescape %}").render(
        Context(context)
    )


def email_render(name: str, context: dict[str, Any]) -> dict[str, Any]:
    subject = _render_text(f"emails/{name}.subject.txt", context)
    return {
        # No line breaks in a subject: a newline there would be header injection.
        "subject": " ".join(subject.split()),
        "text": _render_text(f"emails/{name}.txt", context).strip() + "\n",
        "html": render_to_string(f"emails/{name}.html", context),
    }


def email_queue(*, to: list[str], name: str, context: dict[str, Any]) -> None:
    """Render email `name` now and have a worker send it once the current transaction commits
    (never when it rolls back). See outsmart.emails for how it waits and is retried."""
    rendered = email_render(name, {**context, "site_url": site_url()})
    _queue(to=to, name=name, content=rendered)


def message_queue(message: EmailMultiAlternatives, *, name: str = "allauth") -> None:
    """Queue an already-built message (allauth renders its own)."""
    html = next((c for c, mime in getattr(message, "alternatives", []) if mime == "text/html"), "")
    content = {"subject": message.subject, "text": message.body, "html": html}
    _queue(to=list(message.to), name=name, content=content)


def _queue(*, to: list[str], name: str, content: dict[str, str]) -> None:
    # Imported here: outsmart.delivery and the emails app build on this module's helpers.
    from django.db import transaction

    from outsmart import delivery
    from outsmart.emails.models import SEAL_PURPOSE, OutgoingEmail
    from outsmart.emails.tasks import email_send
    from outsmart.tokens import seal

    row = OutgoingEmail.objects.create(
        name=name[:64], to=to, sealed=seal(SEAL_PURPOSE, json.dumps(content))
    )
    # The task carries the row's id only: no address, link or code travels through the broker.
    transaction.on_commit(lambda: delivery.publish(email_send, row.pk))


def site_url() -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/")
