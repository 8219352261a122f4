"""Backup codes: ten single-use codes of 10 characters (50 bits each), shown once."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

# Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
COUNT = 10
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def generate_backup_codes() -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(COUNT)]


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise_backup_code(raw: str) -> str | None:
    code = re.sub(r"[\s-]", "", raw).upper().translate(_CONFUSABLE)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def backup_code_digest(code: str) -> str:
    key = hashlib.sha256(f"backup-codes:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()
