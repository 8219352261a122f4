"""Cleaning what people type: one place for the rules every form shares."""

from __future__ import annotations

import re
import unicodedata

from django.contrib.auth.models import BaseUserManager
from django.core.exceptions import ValidationError

# Control characters (other than ordinary line breaks in multi-line fields) have no business in
# a name or a message, and in an email they can break headers or the layout.
CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


def validate_email_characters(value: str) -> None:
    """Django's email check lets a quoted local part hold control characters
    ("\\x0b"@example.com, an escape sequence) and a domain hold invisible ones. No mailbox has
    them, and they garble headers, screens and logs: refused like any invalid address."""
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in value):
        raise ValidationError("Enter a valid email address.", code="invalid")


def validate_email(value: str) -> None:
    """Django's `validate_email`, and no control, format or space characters."""
    from django.core.validators import validate_email as django_validate_email

    django_validate_email(value)
    validate_email_characters(value)


def normalise_email(value: str) -> str:
    """Trimmed, with the domain lower-cased (the part before @ is the mail server's business)."""
    return BaseUserManager.normalize_email(value.strip())


def single_line(value: str) -> str:
    return " ".join(CONTROL.sub(" ", value).split())


def multi_line(value: str) -> str:
    lines = [" ".join(CONTROL.sub(" ", line).split()) for line in value.splitlines()]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)
