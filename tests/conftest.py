"""Shared fixtures: personas (CONVENTIONS.md), verified sessions, Redis isolation per xdist
worker, eager tasks for unit tests, and headless Chromium for browser tests."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import PASSWORD, MembershipFactory, OfficeFactory, UserFactory

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _worker_number() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def pytest_configure(config):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError(
            "The tests run on PostgreSQL: use `make test`, or set DATABASE_URL=postgres://..."
        )
    if not settings.REDIS_URL:
        raise pytest.UsageError("The tests need Redis: use `make test`, or set REDIS_URL.")
    # Each xdist worker gets its own Redis database (cache, rate limits and Celery broker), so
    # workers never consume each other's tasks or flush each other's counters.
    # OUTSMART_TEST_REDIS_DB lets two test runs share one Redis server without meeting.
    db = int(os.environ.get("OUTSMART_TEST_REDIS_DB", "1")) + _worker_number()
    url = re.sub(r"/\d*$", "", settings.REDIS_URL.rstrip("/")) + f"/{db}"
    settings.CACHES["default"]["LOCATION"] = url
    settings.CELERY_BROKER_URL = url
    from outsmart.celery import app

    app.conf.broker_url = url
    # WhiteNoise looks at STATIC_ROOT at start-up; tests serve from the finders instead.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # Hashed static names need collectstatic; the tests serve static files from the finders.
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )


@pytest.fixture(autouse=True)
def _isolated_state(settings):
    from django.core.cache import cache

    from outsmart import sms
    from outsmart.celery import app

    cache.clear()
    sms.outbox.clear()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    settings.OUTBOX_DIR = settings.VAR_DIR / "test-outbox" / str(_worker_number())
    yield
    app.conf.task_always_eager = True


@pytest.fixture(scope="session", autouse=True)
def _flush_may_empty_the_audit_log():
    """The database refuses TRUNCATE of the audit log (outsmart/audit/migrations/0004) except
    in a test database whose transaction allows it: Django's flush after a transactional test
    is one TRUNCATE of every table, so it says so first."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return original(self, ["SET LOCAL outsmart.audit_truncate = 'allow'", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture(autouse=True)
def _no_secret_in_logs(monkeypatch):
    """Issue 9, point 7: every test's logs (at DEBUG, redacted and formatted as in production)
    must not hold a password, OTP, token or access code that the test handled
    (tests/security/logwatch.py)."""
    from tests.security.logwatch import SecretWatch

    watch = SecretWatch(monkeypatch).start()
    try:
        yield watch
    finally:
        watch.stop()
    leaks = watch.leaks()
    if leaks:
        pytest.fail("A secret reached the log output:\n" + "\n".join(map(str, leaks[:10])))


# --- personas -------------------------------------------------------------------------------
@pytest.fixture
def office(db):
    return OfficeFactory(name="Lakeside Clinic")


@pytest.fixture
def other_office(db):
    return OfficeFactory(name="Hilltop Clinic")


@pytest.fixture
def admin(office):
    return MembershipFactory(
        office=office, role="practitioner", is_admin=True, user__email="admin@lakeside.example"
    ).user


@pytest.fixture
def practitioner(office):
    return MembershipFactory(
        office=office, role="practitioner", user__email="dr.who@lakeside.example"
    ).user


@pytest.fixture
def staff(office):
    return MembershipFactory(office=office, role="staff", user__email="desk@lakeside.example").user


@pytest.fixture
def removed_member(office, admin):
    membership = MembershipFactory(office=office, role="staff", user__email="gone@lakeside.example")
    membership.removed_at = timezone.now()
    membership.removed_by = admin
    membership.save()
    return membership.user


@pytest.fixture
def outsider(other_office):
    """A practitioner and admin of another office."""
    return MembershipFactory(
        office=other_office, role="practitioner", is_admin=True, user__email="boss@hilltop.example"
    ).user


@pytest.fixture
def patient(db):
    """A patient portal account (no membership anywhere)."""
    return UserFactory(email="patient@example.net")


@pytest.fixture
def support(db):
    return UserFactory(email="support@outsmart.example", is_staff=True, is_superuser=True)


@pytest.fixture
def password():
    return PASSWORD


# --- sessions -------------------------------------------------------------------------------
def make_authenticator(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def current_totp(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def verified_login(client):
    """Log `user` in on the test client with a verified second factor, as after a full login."""

    def login(user, client=client):
        from django_otp import DEVICE_ID_SESSION_KEY

        device = make_authenticator(user)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    return login


# --- browser --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are ordinary synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """A fresh browser context and page. Every browser test also checks that the
    Content-Security-Policy refused nothing the page needed: a violation means a script or
    style the policy blocks, i.e. a page that is broken for real users."""
    contexts = []
    violations: list[str] = []

    def watch(message):
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live_server.url
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", watch)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not violations, violations


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
