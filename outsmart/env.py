"""Reading the operator contract (DESIGN.md) from the environment.

Every malformed value stops start-up with a message that names the variable, so an
operator never has to guess which of a dozen settings broke the boot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_config(name: str, default: str) -> dict:
    raw = env_str(name) or default
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several kinds for bad input
        raise ImproperlyConfigured(
            f"{name} is malformed ({exc}); expected e.g. postgres://user@127.0.0.1:5432/outsmart"
        ) from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} names no SQLite file.")
        config["CONN_MAX_AGE"] = 0
    elif engine.endswith("postgresql"):
        if not config.get("NAME") or not config.get("HOST"):
            raise ImproperlyConfigured(
                f"{name} must name a host and a database, e.g. postgres://user@127.0.0.1:5432/outsmart"
            )
        # A database host that does not answer fails a request in seconds (a 503 page), instead
        # of holding it for the operating system's TCP timeout. `?connect_timeout=N` overrides.
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    else:
        raise ImproperlyConfigured(f"{name} must be a postgres:// or sqlite:// URL.")
    return config


def redis_url(name: str) -> str | None:
    raw = env_str(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    try:
        port = parts.port
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError("the path must be a database number")
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"{name} is malformed ({exc}); expected e.g. redis://127.0.0.1:6379/0"
        ) from None
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name} is malformed; expected e.g. redis://127.0.0.1:6379/0")
    del port
    return raw


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: int = 10


def email_config(name: str) -> EmailConfig | None:
    """`smtp://user:pass@host:port`, `smtp+tls://...` (STARTTLS), `smtps://...` (implicit TLS),
    or `console://` for printing mail to stdout."""
    raw = env_str(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme == "console":
        return EmailConfig(backend="django.core.mail.backends.console.EmailBackend")
    if parts.scheme not in {"smtp", "smtp+tls", "smtps"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} is malformed; expected smtp://host:port, smtp+tls://user:pass@host:587, "
            "smtps://user:pass@host:465 or console://"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed ({exc}).") from None
    query = parse_qs(parts.query)
    timeout = query.get("timeout", ["10"])[0]
    if not timeout.isdigit():
        raise ImproperlyConfigured(f"{name} has a timeout that is not a number of seconds.")
    return EmailConfig(
        backend="django.core.mail.backends.smtp.EmailBackend",
        host=parts.hostname,
        port=port or {"smtps": 465, "smtp+tls": 587}.get(parts.scheme, 25),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=parts.scheme == "smtp+tls",
        use_ssl=parts.scheme == "smtps",
        timeout=int(timeout),
    )


@dataclass(frozen=True)
class SmsConfig:
    backend: str
    url: str = ""
    timeout: int = 10


def sms_config(name: str) -> SmsConfig | None:
    """`https://user:token@sms.example.com/v1/messages` (the provider's endpoint; `?timeout=N`
    for another timeout than 10 s), `console://` for printing messages to stdout, or `locmem://`
    for keeping them in `outsmart.sms.outbox`."""
    raw = env_str(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme == "console":
        return SmsConfig(backend="outsmart.sms.ConsoleBackend")
    if parts.scheme == "locmem":
        return SmsConfig(backend="outsmart.sms.LocmemBackend")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} is malformed; expected https://user:token@sms.example.com/v1/messages, "
            "console:// or locmem://"
        )
    try:
        _ = parts.port  # raises for a port that is not a number or out of range
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed ({exc}).") from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    timeout = dict(query).get("timeout", "10")
    if not (timeout.isascii() and timeout.isdigit()) or int(timeout) == 0:
        raise ImproperlyConfigured(f"{name} has a timeout that is not a number of seconds.")
    # The timeout is ours, not the provider's: it stays out of the URL we post to.
    endpoint = parts._replace(query=urlencode([(k, v) for k, v in query if k != "timeout"]))
    return SmsConfig(
        backend="outsmart.sms.HttpBackend", url=urlunsplit(endpoint), timeout=int(timeout)
    )
