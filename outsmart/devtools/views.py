"""/dev/outbox/: read the development outbox in the browser (mounted only with DEBUG on)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from outsmart.devtools.mail import outbox_dir

EMAIL_CSP = [
    "sandbox allow-popups allow-top-navigation-by-user-activation",
    "default-src 'none'",
    "img-src data:",
    "style-src 'unsafe-inline'",
]
_NAME = re.compile(r"^[0-9]+-[0-9a-f]{8}\.eml$")


def _read(name: str):
    if not _NAME.match(name):
        raise Http404("No such message.")
    path = outbox_dir() / name
    if not path.is_file():
        raise Http404("No such message.")
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else "", html.get_content() if html else "")


def outbox(request: HttpRequest) -> HttpResponse:
    folder = outbox_dir()
    names = sorted((p.name for p in folder.glob("*.eml")), reverse=True) if folder.exists() else []
    items = []
    for name in names[:200]:
        message = _read(name)
        items.append(
            {
                "name": name,
                "to": message["To"],
                "subject": message["Subject"],
                "date": message["Date"],
            }
        )
    return render(request, "devtools/outbox.html", {"items": items})


def message_detail(request: HttpRequest, name: str) -> HttpResponse:
    message = _read(name)
    text, html = _parts(message)
    return render(
        request,
        "devtools/message.html",
        {"name": name, "message": message, "text": text, "has_html": bool(html)},
    )


def message_html(request: HttpRequest, name: str) -> HttpResponse:
    _, html = _parts(_read(name))
    if not html:
        raise Http404("This message has no HTML part.")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # The email's HTML is shown as the recipient's mail client would: no scripts, own origin.
    response["Content-Security-Policy"] = "; ".join(EMAIL_CSP)
    return response
