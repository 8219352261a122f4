"""Redis away (outsmart.cache, outsmart.ratelimit): the cache answers as an empty one, so sessions
and ordinary pages keep working from the database; the limits that protect a secret (failed
access codes, failed second factors, allauth's login limits) fail closed with a clear 503; the
others fail open. And a database that cannot be reached answers 503, never a traceback.

"Redis stopped" here is a Redis URL on a port nothing listens on, as after `redis-server`
exits; tests/integration/test_faults.py stops and restarts a real one.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.core.cache import cache, caches
from django.db import OperationalError
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from accesscodes.models import AccessCode
from outsmart import ratelimit
from outsmart.audit.models import AuditEvent
from outsmart.cache import CacheUnavailable, strict
from portal.models import PortalAccess
from tests.conftest import current_totp, make_authenticator
from tests.factories import PatientFactory, issue_code

pytestmark = pytest.mark.django_db

STOPPED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
DOB = date(1979, 11, 23)
VERIFY = reverse("accounts:two_factor_verify")


@pytest.fixture
def redis_down(settings):
    """From here on, the cache (sessions, rate limits) talks to a Redis that is not there."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": STOPPED_REDIS}}
    yield


@pytest.fixture
def chart(office):
    return PatientFactory(office=office, first_name="Nora", last_name="Lind", date_of_birth=DOB)


def code_form(issued) -> dict:
    return {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}


class Records(logging.Handler):
    def __init__(self, logger_name: str):
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger_name)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.getMessage()}")

    def __enter__(self):
        self.logger.addHandler(self)
        return self.lines

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


# --- the cache itself ---------------------------------------------------------------------------
def test_with_redis_stopped_the_cache_answers_as_an_empty_one_and_warns_once(redis_down):
    with Records("outsmart.cache") as lines:
        assert cache.get("k") is None
        assert cache.get("k", 7) == 7
        assert cache.add("k", 1) is False
        cache.set("k", 1)
        assert cache.delete("k") is False
        assert cache.has_key("k") is False
        assert cache.get_many(["a", "b"]) == {}
        cache.set_many({"a": 1})
        cache.delete_many(["a"])
        # A counter is never softened: its caller must know it did not count.
        with pytest.raises(RedisConnectionError):
            cache.incr("k")
        with strict(), pytest.raises(CacheUnavailable):
            cache.get("k")
    assert cache.available is False
    # One warning for the whole burst, not one per operation.
    assert len(lines) == 1 and lines[0].startswith("WARNING cache unavailable"), lines


def test_a_key_written_or_deleted_while_redis_was_away_is_dropped_before_the_next_answer():
    """A session changed or ended in the database during a split from Redis (which kept its
    data) must not be read back stale from Redis afterwards."""
    backend = caches["default"]
    backend.set("session", "logged in")
    real_delete = backend._cache.delete

    def unreachable(key):
        raise RedisConnectionError("Connection refused")

    backend._cache.delete = unreachable
    try:
        assert backend.delete("session") is False  # lost: Redis still holds "logged in"
    finally:
        backend._cache.delete = real_delete
    assert backend.available is False
    # The first operation that reaches Redis again drops the key first.
    assert backend.get("session") is None
    assert backend.available is True


# --- sessions and ordinary pages --------------------------------------------------------------
def test_a_logged_in_member_keeps_working_from_the_database_while_redis_is_stopped(
    settings, staff, chart, verified_login
):
    client = verified_login(staff)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": STOPPED_REDIS}}
    for url in (
        reverse("records:patients"),
        reverse("records:schedule"),
        reverse("records:patient", args=[chart.pk]),
        reverse("offices:team"),
        reverse("accounts:overview"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert chart.last_name in client.get(reverse("records:patients")).content.decode()
    # A change to the session (here: logging out) is saved in the database.
    client.post(reverse("account_logout"))
    response = client.get(reverse("records:patients"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


# --- limits that protect a secret fail closed ---------------------------------------------------
def test_access_code_redemption_is_refused_with_a_503_while_its_counters_are_away(
    redis_down, client, patient, practitioner, chart
):
    issued = issue_code(patient=chart, actor=practitioner)
    client.force_login(patient)
    url = reverse("portal:access_code")
    with Records("outsmart.ratelimit") as lines:
        # Right code, right date of birth: still nothing is checked.
        response = client.post(url, {**code_form(issued), "date_of_birth": DOB.isoformat()})
        wrong = client.post(url, {"code_1": "apple", "code_2": "banana", "code_3": "cherry",
                                  "code_4": "dolphin"})  # fmt: skip
    for answer in (response, wrong):
        assert answer.status_code == 503
        assert answer["Retry-After"] == "60"
        body = answer.content.decode()
        assert "Access codes cannot be checked right now" in body
        assert "try again in a minute" in body
    assert not PortalAccess.objects.exists()
    assert AccessCode.objects.get(pk=issued.access_code.pk).status == "active"
    assert not AuditEvent.objects.filter(action="access_code.redeemed").exists()
    assert lines == ["ERROR rate limit redeem-ip: counter unavailable; refused (fail closed)"] * 2


def test_a_failure_that_cannot_be_counted_is_refused_not_reported(monkeypatch, office, chart):
    """Redis answers the check and is gone when the failure is to be counted: the person does
    not learn what was wrong with the code, and the failure stays in the audit log."""
    from accesscodes import services as codes

    def counter_gone(limit, ident):
        raise ratelimit.LimitUnavailable(limit)

    monkeypatch.setattr(ratelimit, "hit", counter_gone)
    issued = issue_code(patient=chart)
    with pytest.raises(codes.CheckUnavailable) as refused:
        codes.access_code_verify(typed=issued.code, date_of_birth=date(2000, 1, 1), ip="192.0.2.9")
    assert refused.value.reason == "unavailable"
    assert "date of birth" not in refused.value.message
    failed = AuditEvent.objects.get(action="access_code.redeem_failed")
    assert failed.detail["reason"] == "dob_mismatch"


def test_second_factor_is_refused_with_a_503_while_its_counter_is_away(
    settings, client, patient, password
):
    device = make_authenticator(patient)
    response = client.post(reverse("account_login"), {"login": patient.email, "password": password})
    assert response.status_code == 302
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": STOPPED_REDIS}}
    with Records("outsmart.ratelimit") as lines:
        response = client.post(VERIFY, {"code": current_totp(device)})
    assert response.status_code == 503
    assert "Sign-in codes cannot be checked right now" in response.content.decode()
    # Not verified: the account pages still ask for the second factor.
    assert client.get(reverse("accounts:overview")).url.startswith(VERIFY)
    assert not AuditEvent.objects.filter(action="two_factor.verified").exists()
    assert lines == ["ERROR rate limit two-factor: counter unavailable; refused (fail closed)"]


def test_password_login_is_briefly_unavailable_not_unlimited_while_redis_is_stopped(
    redis_down, client, patient, password
):
    response = client.post(reverse("account_login"), {"login": patient.email, "password": password})
    assert response.status_code == 503
    body = response.content.decode()
    assert "briefly unavailable" in body and "try again in a minute" in body
    assert "Too many" not in body
    assert "_auth_user_id" not in client.session


def test_limits_that_guard_no_secret_fail_open(redis_down, client):
    """A malformed invitation link is counted against abuse, not against guessing (the tokens
    have 256 bits): with Redis away the page still explains the link."""
    with Records("outsmart.ratelimit") as lines:
        response = client.get("/invitations/not-a-token/", follow=True)
    assert response.status_code in (400, 404)
    assert lines and all(line.endswith("allowed (fail open)") for line in lines)


# --- the database away --------------------------------------------------------------------------
def test_a_database_that_cannot_be_reached_answers_503_without_a_traceback(
    monkeypatch, staff, verified_login
):
    client = verified_login(staff)
    client.raise_request_exception = False

    def unreachable(user):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr("offices.access.user_active_memberships", unreachable)
    response = client.get(reverse("records:patients"))
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    body = response.content.decode()
    assert "Temporarily unavailable" in body
    assert "Traceback" not in body and "OperationalError" not in body and "127.0.0.1" not in body


def test_any_other_error_still_answers_the_500_page(monkeypatch, staff, verified_login):
    client = verified_login(staff)
    client.raise_request_exception = False

    def broken(user):
        raise RuntimeError("a bug")

    monkeypatch.setattr("offices.access.user_active_memberships", broken)
    response = client.get(reverse("records:patients"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "a bug" not in response.content.decode()


def test_a_database_host_that_does_not_answer_fails_a_request_in_seconds(monkeypatch):
    """Without a connect timeout, a database host that drops packets holds every request for
    the operating system's TCP timeout (minutes); with it, the request gets the 503 page."""
    from outsmart.env import database_config

    monkeypatch.setenv("FAULTS_DB", "postgres://app@db.internal:5432/outsmart")
    assert database_config("FAULTS_DB", "")["OPTIONS"]["connect_timeout"] == 5
    monkeypatch.setenv("FAULTS_DB", "postgres://app@db.internal:5432/outsmart?connect_timeout=9")
    assert int(database_config("FAULTS_DB", "")["OPTIONS"]["connect_timeout"]) == 9
