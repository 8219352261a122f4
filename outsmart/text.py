"""Cleaning what people type: one place for the rules every form shares."""

from __future__ import annotations

import re

from django.contrib.auth.models import BaseUserManager

# Control characters (other than ordinary line breaks in multi-line fields) have no business in
# a name or a message, and in an email they can break headers or the layout.
CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


def normalise_email(value: str) -> str:
    """Trimmed, with the domain lower-cased (the part before @ is the mail server's business)."""
    return BaseUserManager.normalize_email(value.strip())


def single_line(value: str) -> str:
    return " ".join(CONTROL.sub(" ", value).split())


def multi_line(value: str) -> str:
    lines = [" ".join(CONTROL.sub(" ", line).split()) for line in value.splitlines()]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)
