"""Secrets in links and codes: random values, and the keyed hashes we store instead of them.

Everything is keyed with ACCESS_CODE_SECRET, which lives in the environment and never in the
database, so a copy of the database alone reveals no token or code (DESIGN.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

TOKEN_BYTES = 32  # 256 bits; links carry them as 43 URL-safe characters


def _key(purpose: str) -> bytes:
    # One derived key per purpose, so a digest made for one use is worthless for another.
    return hmac.new(
        settings.ACCESS_CODE_SECRET.encode(), f"outsmart:{purpose}".encode(), hashlib.sha256
    ).digest()


def keyed_digest(purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, hex: what the database stores and looks up instead of a secret."""
    return hmac.new(_key(f"digest:{purpose}"), value.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def derived_token(purpose: str, nonce: str) -> str:
    """The link token of a row: an HMAC of the row's random nonce under the server secret.

    The worker can rebuild it when it sends (or re-sends after an outage) the email, without
    the token ever being stored or passed through the broker.
    """
    mac = hmac.new(_key(f"token:{purpose}"), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:TOKEN_BYTES]).decode().rstrip("=")


TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(TOKEN_BYTES)).decode().rstrip("="))
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def looks_like_token(value: str) -> bool:
    return len(value) == TOKEN_LENGTH and set(value) <= TOKEN_ALPHABET


def _fernet(purpose: str):
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(_key(f"seal:{purpose}")))


def seal(purpose: str, value: str) -> str:
    """Encrypt `value` under a key derived from the server secret: for a secret that must wait
    in the database for a worker (an access code until it is emailed), never for longer."""
    return _fernet(purpose).encrypt(value.encode()).decode()


def unseal(purpose: str, sealed: str) -> str:
    return _fernet(purpose).decrypt(sealed.encode()).decode()


def new_link_token() -> str:
    """A random token for an access link: 144 bits in 24 URL-safe characters, short enough
    for an SMS."""
    return secrets.token_urlsafe(18)


LINK_TOKEN_LENGTH = 24


def looks_like_link_token(value: str) -> bool:
    return len(value) == LINK_TOKEN_LENGTH and set(value) <= TOKEN_ALPHABET
