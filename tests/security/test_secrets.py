"""Secrets out of sight (issue 9, point 7).

Every flow that handles a secret runs here through the real views, with every Django logger at
DEBUG (requests, the development server, security, and SQL with its parameters), the project's
own loggers at DEBUG, and Celery publishing to Redis instead of running tasks in-process. Then:
- no password, OTP, backup code, access code, access-link token, invitation token or
  password-reset token of the flow is in the log output (as the production handler writes it);
- none is in a message published to the broker (tasks carry ids; an email waits sealed);
- no access code, token or password is in any table, sessions decoded included, nor in Redis.

`tests/security/logwatch.py` holds the machinery; `tests/conftest.py` runs its log check
after every test of the suite.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import date, timedelta
from importlib import import_module

import pytest
import time_machine
from celery.signals import before_task_publish
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accesscodes.models import AccessCode
from accesscodes.words import words
from invitations.models import Invitation
from outsmart import sms
from outsmart.audit.services import audit_record
from outsmart.celery import app
from records.services.smartforms import smart_forms_install_defaults
from tests.accesscodes.test_services import database_dump
from tests.conftest import current_totp
from tests.factories import PASSWORD, PatientFactory
from tests.security.logwatch import LOWERED, SecretWatch, capturing_handler

pytestmark = pytest.mark.django_db

# Everything Django logs, SQL included, on top of what the suite-wide check lowers.
DEBUG_LOGGERS = (
    *LOWERED,
    "django.request",
    "django.server",
    "django.security",
    "django.db.backends",
    "kombu",
)
DOB = date(1979, 6, 21)
NEW_PASSWORD = "lantern-orchard-quiet-7719"
TYPED_WRONG_PASSWORD = "Correct-Horse-Typo-5521"
LINK = re.compile(r"https?://[^/\s\"'<>]+(/[^\s\"'<>]*)")


# --- the harness ------------------------------------------------------------------------------
class Broker:
    """Tasks go to Redis as in production; every message is kept as it was published, and
    `run()` then executes them one by one, as the worker would."""

    def __init__(self, capture_callbacks) -> None:
        self.capture_callbacks = capture_callbacks
        self.published: list[dict] = []
        self._pending: list[dict] = []

    def on_publish(self, sender=None, body=None, headers=None, **kwargs) -> None:
        args, task_kwargs = (body[0], body[1]) if isinstance(body, list | tuple) else ((), {})
        message = {
            "task": sender,
            "args": list(args),
            "kwargs": dict(task_kwargs),
            "raw": json.dumps([body, headers], default=str),
        }
        self.published.append(message)
        self._pending.append(message)

    def run(self) -> None:
        while self._pending:
            message = self._pending.pop(0)
            with self.capture_callbacks(execute=True):
                app.tasks[message["task"]].apply(message["args"], message["kwargs"])

    def do(self, action):
        """Run `action` (a request) with its after-commit callbacks, then the tasks it queued."""
        with self.capture_callbacks(execute=True):
            result = action()
        self.run()
        return result


@pytest.fixture
def watch(_no_secret_in_logs, monkeypatch):
    """The suite-wide watch, with every Django logger at DEBUG and SQL logged with its
    parameters, as with DEBUG=True."""
    base: SecretWatch = _no_secret_in_logs
    for name in DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logging.DEBUG)
    wrapper = connections["default"]
    wrapper.force_debug_cursor = True
    try:
        yield base
    finally:
        wrapper.force_debug_cursor = False


@pytest.fixture
def broker(django_capture_on_commit_callbacks):
    broker = Broker(django_capture_on_commit_callbacks)
    app.conf.task_always_eager = False
    before_task_publish.connect(broker.on_publish, weak=False)
    try:
        yield broker
    finally:
        before_task_publish.disconnect(broker.on_publish)
        app.control.purge()  # nothing of this test waits in Redis for another one


def decoded_sessions() -> str:
    """Every session's data, decoded: base64 hides nothing from someone with a backup."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_data FROM django_session")
        rows = [row[0] for row in cursor.fetchall()]
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    return "\n".join(json.dumps(store.decode(data), default=str) for data in rows)


def redis_dump() -> str:
    """Every value in this test's Redis database (cache, sessions' cache copies, rate limits,
    broker queues), as text."""
    import redis

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    chunks = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"hash":
            values = list(client.hgetall(key).values())
        elif kind in (b"set", b"zset"):
            values = list(client.smembers(key) if kind == b"set" else client.zrange(key, 0, -1))
        else:
            values = []
        chunks.extend(value.decode("latin-1") for value in [key, *values])
    return "\n".join(chunks)


def stored_secrets(watch: SecretWatch, text: str) -> list[str]:
    """The secrets of the test found in `text` (TOTP codes are left out: 6 digits occur in
    stored timestamps by chance, and a TOTP code is never stored anyway)."""
    numbers, watch.secrets.numbers = watch.secrets.numbers, set()
    try:
        return [str(leak) for leak in watch.leaks(text)]
    finally:
        watch.secrets.numbers = numbers


def assert_out_of_sight(watch: SecretWatch, broker: Broker) -> None:
    watch.collect_sent()
    assert watch.secrets.literals, "the flow handled no secret"
    assert watch.leaks() == []
    published = "\n".join(message["raw"] for message in broker.published)
    assert broker.published, "nothing was published"
    assert stored_secrets(watch, published) == [], "a secret was published to the broker"
    for message in broker.published:  # tasks carry ids
        assert all(isinstance(arg, int) for arg in message["args"]), message
        assert not message["kwargs"], message
    assert stored_secrets(watch, database_dump()) == [], "a secret is stored in plain text"
    assert stored_secrets(watch, decoded_sessions()) == [], "a secret is kept in a session"
    assert stored_secrets(watch, redis_dump()) == [], "a secret is kept in Redis"


def path_of(url: str) -> str:
    return LINK.match(url).group(1)


def last_email_links(fragment: str) -> list[str]:
    return [
        path_of(url)
        for url in re.findall(r"https?://[^\s\"'<>]+", mail.outbox[-1].body)
        if fragment in url
    ]


def login(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


# --- the flows ------------------------------------------------------------------------------
def test_passwords_resets_and_two_factor_codes_stay_out_of_logs_broker_and_database(
    watch, broker, practitioner, office
):
    office.require_two_factor = True
    office.save()
    client = Client()
    # A failed login with a near-miss of a password, then the right one.
    watch.secrets.literal(TYPED_WRONG_PASSWORD, "password typed")
    assert login(client, practitioner.email, TYPED_WRONG_PASSWORD).status_code in (200, 400)
    assert login(client, practitioner.email, PASSWORD).status_code == 302

    # Two-factor set-up: the QR page, the authenticator's code, the backup codes (twice).
    setup = reverse("accounts:two_factor_setup")
    assert client.get(setup).status_code == 200
    device = TOTPDevice.objects.get(user=practitioner, confirmed=False)
    shown = broker.do(lambda: client.post(setup, {"code": current_totp(device)}))
    assert shown.status_code == 200
    backup_codes = re.findall(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b", shown.content.decode())
    assert len(backup_codes) == 10
    regenerated = broker.do(lambda: client.post(reverse("accounts:backup_codes_regenerate")))
    assert regenerated.status_code == 200
    backup_codes = re.findall(r"\b[0-9A-Z]{5}-[0-9A-Z]{5}\b", regenerated.content.decode())
    broker.do(lambda: client.post(reverse("account_logout")))

    # Verify: a wrong code, a backup code, and (later) the authenticator's code.
    verify = reverse("accounts:two_factor_verify")
    assert login(client, practitioner.email, PASSWORD).status_code == 302
    assert client.post(verify, {"code": "123456"}).status_code == 400
    assert broker.do(lambda: client.post(verify, {"code": backup_codes[0]})).status_code == 302
    broker.do(lambda: client.post(reverse("account_logout")))
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert login(client, practitioner.email, PASSWORD).status_code == 302
        device.refresh_from_db()
        assert client.post(verify, {"code": current_totp(device)}).status_code == 302

    # Password reset: request, open the link (and a tampered copy), set a new password.
    anonymous = Client()
    broker.do(
        lambda: anonymous.post(reverse("account_reset_password"), {"email": practitioner.email})
    )
    (reset_path,) = last_email_links("/password/reset/key/")
    tampered = reset_path.replace("/key/", "/key/<b>", 1)
    assert anonymous.get(tampered).status_code in (200, 404)
    form_page = anonymous.get(reset_path, follow=True)
    assert form_page.status_code == 200
    set_password = form_page.redirect_chain[-1][0]
    broker.do(
        lambda: anonymous.post(set_password, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    )
    practitioner.refresh_from_db()
    assert practitioner.check_password(NEW_PASSWORD)
    # A reset link used up is refused; its key is logged nowhere either.
    assert anonymous.get(reset_path, follow=True).status_code == 200

    assert watch.secrets.numbers, "no TOTP code was computed"
    assert_out_of_sight(watch, broker)


def test_invitation_tokens_stay_out_of_logs_broker_and_database(
    watch, broker, admin, office, verified_login
):
    office.require_two_factor = False  # the invitee approves right after registering
    office.save()
    clinic = verified_login(admin, Client())
    create = reverse("invitations:create", kwargs={"role": "practitioner"})
    response = broker.do(
        lambda: clinic.post(create, {"email": "new.doctor@example.com", "name": "Dr New"})
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(office=office, email="new.doctor@example.com")
    first_link = last_email_links("/invitations/")[0]
    # Resend: a new token; the old link is refused and its token is logged nowhere.
    broker.do(lambda: clinic.post(reverse("invitations:resend", args=[invitation.pk])))
    link = last_email_links("/invitations/")[0]
    assert link != first_link

    invitee = Client()
    assert invitee.get(first_link).status_code in (404, 410)
    # A link pasted with junk in front of the token, and the older "register/" form of it.
    assert invitee.get(link.replace("/invitations/", "/invitations/<script>", 1)).status_code == 404
    landing = invitee.get(link, follow=True)
    assert landing.status_code == 200
    register_page = invitee.get(link + "register/", follow=True)
    assert register_page.status_code == 200
    register_url = register_page.redirect_chain[-1][0]
    token = link.rstrip("/").rsplit("/", 1)[-1]
    response = broker.do(
        lambda: invitee.post(
            register_url,
            {
                "security_code": token,
                "first_name": "Nadia",
                "last_name": "New",
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
            },
        )
    )
    assert response.status_code == 302, response.content.decode()[:500]
    broker.do(lambda: invitee.post(reverse("invitee:approve", args=[invitation.pk])))
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    assert_out_of_sight(watch, broker)


def test_access_codes_and_links_stay_out_of_logs_broker_and_database(
    watch, broker, practitioner, office, verified_login
):
    chart = PatientFactory(
        office=office,
        first_name="Wren",
        last_name="Ashdown",
        date_of_birth=DOB,
        email="wren@example.net",
        mobile_phone="+14165550177",
    )
    intake = smart_forms_install_defaults(office=office)
    clinic = verified_login(practitioner, Client())
    issue = reverse("accesscodes:issue_medical_records", args=[chart.pk])
    send = reverse("accesscodes:send_smart_form", args=[chart.pk])
    for number, channel in enumerate(("email", "sms", "phone", "print")):
        response = broker.do(
            lambda channel=channel, number=number: clinic.post(
                issue,
                {
                    "channel": channel,
                    "email": chart.email,
                    "mobile": chart.mobile_phone,
                    "issue_key": f"{number:032x}",
                },
            )
        )
        assert response.status_code == 200, (channel, response.status_code)
    for number, channel in enumerate(("email", "sms"), start=10):
        response = broker.do(
            lambda channel=channel, number=number: clinic.post(
                send,
                {
                    "smart_form": intake.pk,
                    "channel": channel,
                    "email": chart.email,
                    "mobile": chart.mobile_phone,
                    "issue_key": f"{number:032x}",
                },
            )
        )
        assert response.status_code == 200, (channel, response.status_code)
    assert len(watch.secrets.codes) == 6
    codes = AccessCode.objects.filter(patient=chart).order_by("pk")
    phone_code, print_code = codes[2], codes[3]
    # Reissue the phone code, cancel the printed one.
    broker.do(
        lambda: clinic.post(
            reverse("accesscodes:reissue", args=[phone_code.pk]),
            {"channel": "phone", "issue_key": f"{99:032x}"},
        )
    )
    broker.do(lambda: clinic.post(reverse("accesscodes:cancel", args=[print_code.pk])))

    # The patient registers with the reissued phone code, typed in the 4 fields.
    reissued = AccessCode.objects.filter(replaces=phone_code).get()
    reissued_code = watch.secrets.drawn[-1]
    patient = Client()
    wrong = _unused_code(watch)
    watch.secrets.code(wrong)
    wrong_try = patient.post(reverse("portal:register"), _register_data(wrong.split(" ")))
    assert wrong_try.status_code == 400
    response = broker.do(
        lambda: patient.post(reverse("portal:register"), _register_data(reissued_code.split(" ")))
    )
    assert response.status_code == 302
    reissued.refresh_from_db()
    assert reissued.status == AccessCode.Status.REDEEMED
    # The verification email's link, opened and confirmed; and a tampered copy.
    (confirm,) = last_email_links("/confirm-email/")
    assert patient.get(confirm.replace("/confirm-email/", "/confirm-email/x", 1)).status_code in (
        200,
        404,
    )
    assert patient.get(confirm).status_code == 200
    broker.do(lambda: patient.post(confirm))

    # +Access Code with a wrong code, then the emailed code's link with the date of birth.
    typed = _unused_code(watch)
    watch.secrets.code(typed)
    data = {f"code_{i}": word for i, word in enumerate(typed.split(" "), start=1)}
    assert patient.post(reverse("portal:access_code"), data).status_code == 400
    email_sms = [m for m in mail.outbox if "/a/" in m.body]
    link = next(
        path_of(u) for u in re.findall(r"https?://[^\s\"'<>]+", email_sms[0].body) if "/a/" in u
    )
    assert patient.get(link.replace("/a/", "/a/<i>", 1)).status_code == 404
    assert patient.get(link, follow=True).status_code == 200
    wrong_dob = patient.post(reverse("portal:link_continue"), {"date_of_birth": "1990-01-01"})
    assert wrong_dob.status_code == 400
    done = broker.do(
        lambda: patient.post(reverse("portal:link_continue"), {"date_of_birth": DOB.isoformat()})
    )
    assert done.status_code == 302

    # The Smart Form's SMS link, opened by someone with no account.
    (sms_link,) = [
        path_of(u) for u in re.findall(r"https?://\S+", sms.outbox[-1].body) if "/a/" in u
    ]
    assert Client().get(sms_link, follow=True).status_code == 200
    assert_out_of_sight(watch, broker)


def _unused_code(watch: SecretWatch) -> str:
    """Four words of the list that make no code of this test: what a person mistypes."""
    vocabulary = [w for w in words() if w.isalpha() and len(w) >= 6]
    while True:
        code = " ".join(secrets.SystemRandom().sample(vocabulary, 4))
        if code not in watch.secrets.codes:
            return code


def _register_data(code_words: list[str]) -> dict:
    data = {
        "first_name": "Wren",
        "last_name": "Ashdown",
        "date_of_birth": DOB.isoformat(),
        "email": "wren.account@example.net",
        "password": NEW_PASSWORD,
    }
    data.update({f"code_{i}": word for i, word in enumerate(code_words, start=1)})
    return data


# --- the checks check -------------------------------------------------------------------------
def test_the_checks_find_a_secret_that_does_reach_a_log_line_the_database_or_the_broker(
    watch, broker, office, practitioner
):
    """Without this, the tests above could pass because they look nowhere."""
    from accesscodes.services import access_code_issue

    chart = PatientFactory(office=office, date_of_birth=DOB)
    issued = access_code_issue(
        office=office, patient=chart, kind="medical_records", actor=practitioner, channel="phone"
    )
    token = issued.link.rstrip("/").rsplit("/", 1)[-1]
    logger = logging.getLogger("accesscodes.views")
    # The redaction filter hides a link's token in a path, whatever precedes it...
    logger.warning("Not Found: /a/%s/ and /a/<junk>%s/", token, token)
    assert watch.leaks() == []
    # ... but a code or token written out anywhere else is found, in any spacing and case.
    logger.debug("issued %s", issued.code.upper().replace(" ", "-"))
    logger.info("link token %s", token)
    kinds = sorted({leak.kind for leak in watch.leaks()})
    assert kinds == ["access code", "link token"]
    capturing_handler().lines.clear()  # the suite-wide check would fail this test otherwise

    audit_record(action="test.leak", detail={"oops": issued.code})
    assert [leak.split(":")[0] for leak in stored_secrets(watch, database_dump())] == [
        "access code"
    ]
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session["kept"] = {"token": token}
    session.save()
    assert [leak.split(":")[0] for leak in stored_secrets(watch, decoded_sessions())] == [
        "link token"
    ]
    assert "link token" in {leak.split(":")[0] for leak in stored_secrets(watch, redis_dump())}
    capturing_handler().lines.clear()  # the INSERTs' SQL, logged at DEBUG, holds them too
    # A message published with a secret in it is found too.
    app.send_task("tests.never_run", args=[issued.link])
    published = "\n".join(message["raw"] for message in broker.published)
    assert [leak.split(":")[0] for leak in stored_secrets(watch, published)] == ["link token"]


def test_every_configured_log_handler_redacts_and_template_debug_lines_are_never_written():
    config = settings.LOGGING
    for name, handler in config["handlers"].items():
        factories = [config["filters"][f]["()"] for f in handler.get("filters", [])]
        assert "outsmart.logging.RedactFilter" in factories, name
    # A missing template variable is logged at DEBUG with the whole template context (the CSRF
    # token, an email's reset link): not even with "django" turned to DEBUG.
    django_logger = logging.getLogger("django")
    level = django_logger.level
    django_logger.setLevel(logging.DEBUG)
    try:
        assert not logging.getLogger("django.template").isEnabledFor(logging.DEBUG)
    finally:
        django_logger.setLevel(level)


@pytest.mark.parametrize(
    "message",
    [
        "Not Found: /a/{secret}/",
        "Not Found: /a/<script>{secret}/",
        "Not Found: /a/ {secret}/",
        "Gone: /invitations/{secret}/register/",
        "Not Found: /invitations/<b>{secret}/",
        "Not Found: /accounts/confirm-email/{secret}/",
        "Not Found: /accounts/password/reset/key/1-{secret}/",
        "GET /portal/link/?next=/a/{secret}/",
        "POST password1={secret}&password2={secret}",
        "security_code={secret}",
    ],
)
def test_a_secret_in_a_path_or_a_form_field_is_scrubbed_whatever_precedes_it(message):
    from outsmart.logging import RedactFilter

    secret = "Zq9" + secrets.token_urlsafe(18)
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, None, None)
    record.msg = message.format(secret=secret)
    RedactFilter().filter(record)
    assert secret not in record.getMessage()
    assert "[redacted]" in record.getMessage()
    # The request log's own route placeholders stay readable.
    route = logging.LogRecord(
        "outsmart.request", logging.INFO, __file__, 1, "GET /%s 404", ("a/<str:token>/",), None
    )
    RedactFilter().filter(route)
    assert route.getMessage() == "GET /a/<str:token>/ 404"
