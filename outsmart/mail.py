"""Outgoing email: rendered in the request, sent by a Celery worker after the transaction commits.

One template set per email: templates/emails/<name>.subject.txt, <name>.txt and <name>.html (the
HTML extends emails/base.html). The text part is rendered without HTML escaping.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Template
from django.template.loader import get_template, render_to_string

from outsmart.celery import enqueue_on_commit

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
    """Render email `name` now and send it from a worker once the current transaction commits
    (never when it rolls back)."""
    rendered = email_render(name, {**context, "site_url": site_url()})
    message = {"to": to, **rendered}
    enqueue_on_commit(send_email, message)


def message_queue(message: EmailMultiAlternatives) -> None:
    """Queue an already-built message (allauth renders its own)."""
    html = next((c for c, mime in getattr(message, "alternatives", []) if mime == "text/html"), "")
    payload = {
        "to": list(message.to),
        "subject": message.subject,
        "text": message.body,
        "html": html,
    }
    enqueue_on_commit(send_email, payload)


def site_url() -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/")


@shared_task(bind=True, name="outsmart.mail.send_email", max_retries=MAX_RETRIES, acks_late=True)
def send_email(self, message: dict[str, Any]) -> None:
    email = message_build(
        to=message["to"],
        subject=message["subject"],
        text=message["text"],
        html=message.get("html", ""),
    )
    try:
        email.send()
    except Exception as exc:
        if is_transient(exc) and self.request.retries < MAX_RETRIES:
            countdown = min(RETRY_BACKOFF * 2**self.request.retries, RETRY_BACKOFF_MAX)
            logger.warning("email send failed (%s), retry in %ss", type(exc).__name__, countdown)
            raise self.retry(exc=exc, countdown=countdown) from None
        logger.error("email send failed for good (%s)", type(exc).__name__)
        raise
