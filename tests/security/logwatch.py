"""Secrets out of sight (issue 9, point 7): every test's log output is captured, formatted and
redacted exactly as the production handlers do it, and searched for the secrets that test
handled.

`tests/conftest.py` runs `SecretWatch` around every test. During the test it
- turns `django`, `outsmart`, `celery` and the apps' loggers to DEBUG (a child logger the
  settings pin to a level of its own, such as django.template, keeps it: that is what the real
  output would hold), and captures every record that reaches the root logger's handler or a
  configured logger's own handler, through the production handler's filters and formatter;
- remembers every secret the test made or used: the factories' password and any password set
  on a user, every access code and access-link token drawn, every invitation token derived,
  every password-reset token made, every backup code and TOTP code computed, and every token
  in a link of an email (django.core.mail.outbox) or an SMS (outsmart.sms.outbox) it sent.
Afterwards it searches the captured lines for those secrets and fails the test if one is there.

Cheap: the handler is built once; a test that logged nothing, or handled no secret, costs a
few attribute swaps. Precise: only values the test really handled are looked for, long enough
(or bounded by non-alphanumerics) that a match cannot be a coincidence.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string

# The project's apps and the libraries that handle secrets (they propagate to the root).
APP_LOGGERS = (
    "offices",
    "invitations",
    "records",
    "accesscodes",
    "portal",
    "allauth",
    "django_otp",
)
# Looked for in any spacing and case: the 4 words of an access code.
_CODE_GAP = r"[\W_]*"
# A token in a link: a path segment or query value of at least this many URL-safe characters.
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_\-:.]{16,}")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_SHOUTED_CODE = re.compile(r"\b[A-Z][A-Z-]{2,}(?:[ ]+[A-Z][A-Z-]{2,}){3}\b")
MIN_LITERAL = 8


def _configured_handler() -> tuple[list[logging.Filter], logging.Formatter]:
    """The filters and formatter of the handler the settings send everything to."""
    config = settings.LOGGING
    root_handlers = config.get("root", {}).get("handlers", [])
    handler = config["handlers"][root_handlers[0]]
    filters = []
    for name in handler.get("filters", []):
        spec = dict(config["filters"][name])
        factory = spec.pop("()")
        filters.append((import_string(factory) if isinstance(factory, str) else factory)(**spec))
    formatter = config["formatters"][handler["formatter"]]
    return filters, logging.Formatter(formatter.get("format"), formatter.get("datefmt"))


class CapturingHandler(logging.Handler):
    """Keeps each record as the production handler would have written it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        filters, formatter = _configured_handler()
        for log_filter in filters:
            self.addFilter(log_filter)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not hide the others
            self.lines.append(str(record.msg))


_handler: CapturingHandler | None = None


def capturing_handler() -> CapturingHandler:
    global _handler
    if _handler is None:
        _handler = CapturingHandler()
    return _handler


# Turned to DEBUG for the test. A child logger the settings pin to a level of its own
# (django.template) keeps it: that is what the real output would hold.
LOWERED = ("django", "outsmart", "celery", *APP_LOGGERS)


def capturing_loggers() -> list[logging.Logger]:
    """Where the capturing handler goes: the root logger, and every configured logger that does
    not pass its records on to the root (it has handlers of its own)."""
    configured = settings.LOGGING.get("loggers", {})
    names = [name for name, spec in configured.items() if spec.get("propagate", True) is False]
    return [logging.getLogger()] + [logging.getLogger(name) for name in names]


@dataclass
class Secrets:
    """What one test handled that must never be logged, by kind."""

    literals: dict[str, str] = field(default_factory=dict)  # value -> kind
    codes: set[str] = field(default_factory=set)  # access codes, words separated by spaces
    drawn: list[str] = field(default_factory=list)  # the codes drawn, in order
    numbers: set[str] = field(default_factory=set)  # TOTP codes
    lock: threading.Lock = field(default_factory=threading.Lock)

    def literal(self, value, kind: str) -> None:
        if isinstance(value, str) and len(value) >= MIN_LITERAL:
            with self.lock:
                self.literals.setdefault(value, kind)

    def code(self, value) -> None:
        if isinstance(value, str) and value.count(" ") == 3:
            with self.lock:
                self.codes.add(value.lower())

    def number(self, value: str) -> None:
        with self.lock:
            self.numbers.add(value)

    def from_message(self, body: str, kind: str) -> None:
        """The tokens of the links in an email or SMS body, and a code written in capitals."""
        for url in _URL.findall(body):
            for piece in re.split(r"[/?&=#]", url.split("://", 1)[1]):
                if _LINK_TOKEN.fullmatch(piece) and not _is_plain_word(piece):
                    self.literal(piece, f"{kind} link token")
                    # A password-reset key is "<timestamp>-<hash>": the hash alone is secret too.
                    for part in re.split(r"[-:]", piece):
                        if len(part) >= 16:
                            self.literal(part, f"{kind} link token")
        for shouted in _SHOUTED_CODE.findall(body):
            if _all_code_words(shouted):
                self.code(" ".join(shouted.split()))

    def patterns(self) -> list[tuple[re.Pattern[str], str]]:
        found = []
        for value, kind in self.literals.items():
            found.append((re.compile(re.escape(value)), kind))
        for code in self.codes:
            words = [re.escape(word) for word in code.split(" ")]
            found.append((re.compile(_CODE_GAP.join(words), re.IGNORECASE), "access code"))
        for number in self.numbers:
            found.append((re.compile(rf"(?<![0-9A-Za-z]){number}(?![0-9A-Za-z])"), "TOTP code"))
        return found

    def __bool__(self) -> bool:
        return bool(self.literals or self.codes or self.numbers)


def _is_plain_word(piece: str) -> bool:
    # Addresses such as "two-factor/backup-codes" or "127.0.0.1:8000" are not secrets.
    return bool(re.fullmatch(r"[a-z]+(?:[-.][a-z]+)*|[0-9.:]+", piece))


def _all_code_words(text: str) -> bool:
    from accesscodes.words import words

    vocabulary = set(words())
    return all(word.lower() in vocabulary for word in text.split())


@dataclass
class Leak:
    kind: str
    line: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.line}"


class SecretWatch:
    """Capture logs and remember secrets for one test; `leaks()` afterwards."""

    def __init__(self, monkeypatch, lowered: tuple[str, ...] = LOWERED) -> None:
        self.monkeypatch = monkeypatch
        self.secrets = Secrets()
        self.handler = capturing_handler()
        self.lowered = [logging.getLogger(name) for name in lowered]
        self._levels: list[tuple[logging.Logger, int]] = []
        self._attached: list[logging.Logger] = []

    # --- during the test ------------------------------------------------------------------
    def start(self) -> SecretWatch:
        self.handler.lines = []
        for logger in self.lowered:
            self._levels.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
        # One copy of each record: a logger that propagates reaches the root's handler.
        for logger in capturing_loggers():
            logger.addHandler(self.handler)
            self._attached.append(logger)
        self._record_secrets_made()
        return self

    def stop(self) -> None:
        for logger in self._attached:
            logger.removeHandler(self.handler)
        for logger, level in self._levels:
            logger.setLevel(level)
        self._attached, self._levels = [], []

    def _wrap(self, owner, name: str, record) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        def wrapper(*args, **kwargs):
            value = original(*args, **kwargs)
            record(value, args)
            return value

        self.monkeypatch.setattr(owner, name, wrapper)

    def _record_secrets_made(self) -> None:
        from django.contrib.auth.tokens import PasswordResetTokenGenerator
        from django_otp.oath import TOTP

        import accesscodes.services
        import invitations.models
        import invitations.services
        import outsmart.accounts.services
        from outsmart.accounts.models import User
        from tests.factories import PASSWORD

        secrets = self.secrets
        secrets.literal(PASSWORD, "password")
        self._wrap(accesscodes.services, "code_generate", lambda code, _a: self._drawn(code))
        for module in (accesscodes.services,):
            self._wrap(
                module, "new_link_token", lambda token, _a: secrets.literal(token, "link token")
            )
        for module in (invitations.models, invitations.services):
            self._wrap(
                module,
                "derived_token",
                lambda token, _a: secrets.literal(token, "invitation token"),
            )
        self._wrap(
            outsmart.accounts.services,
            "generate_backup_codes",
            lambda codes, _a: [self._backup_code(code) for code in codes],
        )
        self._wrap(
            PasswordResetTokenGenerator,
            "make_token",
            lambda token, _a: self._reset_token(token),
        )
        self._wrap(
            TOTP,
            "token",
            lambda value, args: secrets.number(f"{value:0{args[0].digits}d}"),
        )
        original_set_password = User.set_password

        def set_password(user, raw_password):
            secrets.literal(raw_password, "password")
            return original_set_password(user, raw_password)

        self.monkeypatch.setattr(User, "set_password", set_password)

    def _drawn(self, code: str) -> None:
        self.secrets.code(code)
        self.secrets.drawn.append(code)

    def _backup_code(self, code: str) -> None:
        from outsmart.accounts.backup_codes import display

        self.secrets.literal(code, "backup code")
        self.secrets.literal(display(code), "backup code")

    def _reset_token(self, token: str) -> None:
        self.secrets.literal(token, "password-reset token")
        for part in token.split("-"):
            if len(part) >= 16:
                self.secrets.literal(part, "password-reset token")

    # --- after the test -------------------------------------------------------------------
    def collect_sent(self) -> None:
        """The secrets of every email and SMS the test sent."""
        from django.core import mail

        from outsmart import sms

        for message in getattr(mail, "outbox", []):
            bodies = [message.subject, message.body]
            bodies += [content for content, _mime in getattr(message, "alternatives", [])]
            for body in bodies:
                self.secrets.from_message(str(body), "email")
        for message in sms.outbox:
            self.secrets.from_message(message.body, "SMS")

    def leaks(self, text: str | None = None) -> list[Leak]:
        """Where a secret of this test is in `text` (by default: the captured log output)."""
        self.collect_sent()
        lines = self.handler.lines if text is None else text.splitlines()
        if not lines or not self.secrets:
            return []
        found = []
        joined = "\n".join(lines)
        for pattern, kind in self.secrets.patterns():
            if pattern.search(joined):
                for line in lines:
                    if pattern.search(line):
                        found.append(Leak(kind, pattern.sub(f"<{kind}>", line)))
        return found
