"""Access codes: issuing (keyed hashes only, unique, lifetimes), expiry against the database clock,
redemption (date of birth, one generic answer, Smart Form codes, links), rate limits in one
process, cancel and reissue. Concurrency and several processes: test_concurrency.py."""

from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from cryptography.fernet import InvalidToken
from django.core import mail
from django.db import connection
from django.test import override_settings

from accesscodes import services
from accesscodes.models import CODE_PURPOSE, AccessCode
from accesscodes.services import (
    CANCELLED,
    DOB_MISMATCH,
    EXPIRED_MEDICAL_RECORDS,
    EXPIRED_SMART_FORM,
    FORM_SUBMITTED,
    GENERIC_FAILURE,
    GENERIC_LINK_FAILURE,
    LOCKED,
    USED,
    USED_BY_YOU,
    CodeFormatError,
    DateOfBirthNeeded,
    IssueError,
    RedeemError,
    Throttled,
    access_code_cancel,
    access_code_form_submitted,
    access_code_redeem,
    access_code_reissue,
    access_code_verify,
    code_digest,
    database_now,
    sealed_secrets,
)
from accesscodes.words import code_generate, words
from outsmart.audit.models import AuditEvent
from outsmart.tokens import unseal
from portal.models import PortalAccess
from records.models import FormRequest
from tests.accesscodes.conftest import ANNA_DOB, ANNA_EMAIL, ANNA_MOBILE, WRONG_DOB
from tests.factories import PatientFactory, UserFactory, form_request_for, issue_code

pytestmark = pytest.mark.django_db

FIVE_DAYS = timedelta(days=5)
SIXTY_DAYS = timedelta(days=60)
SECOND = timedelta(seconds=1)


# --- helpers ---------------------------------------------------------------------------------
def token_of(issued) -> str:
    match = re.fullmatch(r"https?://[^/]+/a/([A-Za-z0-9_-]+)/", issued.link)
    assert match, issued.link
    return match.group(1)


def redeem(code, *, dob=ANNA_DOB, user=None, **kwargs):
    typed = code.code if hasattr(code, "code") else code
    return access_code_redeem(typed=typed, date_of_birth=dob, user=user, **kwargs)


def refused(call) -> RedeemError:
    with pytest.raises(RedeemError) as raised:
        call()
    return raised.value


def audit(action: str, access_code: AccessCode | None = None):
    events = AuditEvent.objects.filter(action=action)
    if access_code is not None:
        events = events.filter(target_type="accesscodes.accesscode", target_id=str(access_code.pk))
    return list(events.order_by("created_at", "pk"))


def failure_reasons(access_code: AccessCode | None = None) -> list[str]:
    return [event.detail["reason"] for event in audit("access_code.redeem_failed", access_code)]


def fresh(access_code: AccessCode) -> AccessCode:
    access_code.refresh_from_db()
    return access_code


def database_dump() -> str:
    """Every row of every table, as PostgreSQL's JSON text: what a stolen backup holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        tables = [row[0] for row in cursor.fetchall()]
        rows = []
        for table in tables:
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608
            rows.extend(row[0] for row in cursor.fetchall())
    return "\n".join(rows)


# --- issuing: what is stored -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "channel", "address"),
    [
        ("medical_records", "email", ANNA_EMAIL),
        ("medical_records", "sms", "(514) 555-0123"),
        ("medical_records", "phone", ""),
        ("medical_records", "print", ""),
        ("smart_form", "email", ANNA_EMAIL),
        ("smart_form", "sms", ANNA_MOBILE),
        ("smart_form", "print", ""),
    ],
)
def test_no_plain_code_or_link_token_is_stored_anywhere_after_issuing(
    issue, office, kind, channel, address
):
    # A first code of the same kind and channel, so that everything an issue writes (column
    # names, states, audit wording) is in the baseline and only the code's words are new.
    issue(patient=PatientFactory(office=office), kind=kind, channel=channel, address=address)
    before = database_dump().lower()
    # Four long words that appear nowhere in the database yet, so finding one means a leak.
    unused = [word for word in words() if len(word) >= 8 and word not in before]
    code_words = secrets.SystemRandom().sample(unused, 4)
    code = " ".join(code_words)
    with mock.patch("accesscodes.services.code_generate", return_value=code):
        issued = issue(kind=kind, channel=channel, address=address)
    assert issued.code == code and issued.created
    token = token_of(issued)

    dump = database_dump()
    lower = dump.lower()
    for separator in (" ", "", "-", ".", "_", ",", ", "):
        assert separator.join(code_words) not in lower
    for word in code_words:
        assert word not in lower, f"the code's word {word!r} is in the database"
    assert token not in dump and token.lower() not in lower
    assert AuditEvent.objects.filter(action="access_code.issued").count() == 2

    row = issued.access_code
    assert row.code_digest == code_digest(code)
    assert row.code_digest == services.code_digest(code_parse_text(code.upper()))
    # Keyed: the same code under another server secret has another digest.
    with override_settings(ACCESS_CODE_SECRET="another-secret-" + "x" * 40):
        assert code_digest(code) != row.code_digest
    if channel in ("email", "sms"):
        # Waiting for the worker, encrypted under the server secret, and nowhere else.
        assert row.sealed
        assert sealed_secrets(row) == (code, token)
        with (
            override_settings(ACCESS_CODE_SECRET="another-secret-" + "x" * 40),
            pytest.raises(InvalidToken),
        ):
            unseal(CODE_PURPOSE, row.sealed)
        assert row.delivery_state == "queued"
    else:
        assert row.sealed == ""
        assert row.delivery_state == "handed"


def code_parse_text(typed: str) -> str:
    from accesscodes.words import code_parse

    return code_parse(typed).text


def test_issued_audit_event_names_kind_and_channel_but_holds_no_secret(issue, practitioner):
    issued = issue(channel="email", address=ANNA_EMAIL)
    [event] = audit("access_code.issued", issued.access_code)
    assert event.actor == practitioner
    assert event.patient == issued.access_code.patient
    assert event.detail == {
        "kind": "medical_records",
        "channel": "email",
        "form_request": None,
        "replaces": None,
    }
    assert token_of(issued) not in json.dumps(event.detail) + event.target_repr


def test_a_clash_with_an_active_code_draws_again(issue, caplog):
    first, second = "aardvark passport gem zucchini", "yo-yo passport gem zucchini"
    with mock.patch(
        "accesscodes.services.code_generate", side_effect=[first, first, second]
    ) as drawn:
        one = issue()
        with caplog.at_level(logging.WARNING, logger="accesscodes.services"):
            two = issue()
    assert drawn.call_count == 3
    assert (one.code, two.code) == (first, second)
    assert fresh(one.access_code).status == fresh(two.access_code).status == "active"
    assert AccessCode.objects.count() == 2
    assert "clash with an active code" in caplog.text
    assert first not in caplog.text and "aardvark" not in caplog.text


def test_the_words_of_a_code_no_longer_active_may_be_drawn_again(issue, practitioner):
    code = "aardvark passport gem zucchini"
    with mock.patch("accesscodes.services.code_generate", return_value=code):
        old = issue()
        access_code_cancel(access_code=old.access_code, actor=practitioner)
        new = issue()
    assert new.code == code
    assert AccessCode.objects.filter(code_digest=code_digest(code)).count() == 2
    # The code's words now open the new one, and only that.
    redemption = redeem(code, user=UserFactory())
    assert redemption.access_code == new.access_code


def test_medical_records_code_needs_the_date_of_birth_on_file(office, practitioner):
    patient = PatientFactory(office=office, first_name="Ben", date_of_birth=None)
    with pytest.raises(IssueError) as raised:
        issue_code(patient=patient, actor=practitioner)
    assert str(raised.value) == (
        "Add Ben's date of birth first: the portal asks for it with a medical-records code."
    )
    assert not AccessCode.objects.exists()
    assert not AuditEvent.objects.filter(action="access_code.issued").exists()
    # A Smart Form link asks for no date of birth.
    issued = issue_code(patient=patient, actor=practitioner, kind="smart_form")
    assert issued.access_code.kind == "smart_form"


def test_smart_form_code_is_bound_to_its_pending_form_request(issue, form_request):
    issued = issue(kind="smart_form", form_request=form_request, channel="print")
    row = fresh(issued.access_code)
    assert (row.kind, row.form_request, row.patient) == (
        "smart_form",
        form_request,
        form_request.patient,
    )


def test_smart_form_code_needs_a_pending_form_request_of_that_patient(
    issue, office, practitioner, form_request
):
    with pytest.raises(IssueError, match="Choose the Smart Form this link opens"):
        services.access_code_issue(
            office=office,
            patient=form_request.patient,
            kind="smart_form",
            actor=practitioner,
            channel="print",
            form_request=None,
        )
    other_patient = PatientFactory(office=office)
    with pytest.raises(IssueError, match="Choose the Smart Form this link opens"):
        issue(kind="smart_form", form_request=form_request_for(other_patient, practitioner))
    FormRequest.objects.filter(pk=form_request.pk).update(status=FormRequest.Status.SUBMITTED)
    form_request.refresh_from_db()
    with pytest.raises(IssueError, match="already been submitted"):
        issue(kind="smart_form", form_request=form_request)
    assert not AccessCode.objects.exists()


def test_medical_records_code_is_never_bound_to_a_form(issue, form_request):
    issued = issue(kind="medical_records", form_request=form_request)
    assert fresh(issued.access_code).form_request is None


@pytest.mark.parametrize(
    ("kind", "lifetime"), [("medical_records", FIVE_DAYS), ("smart_form", SIXTY_DAYS)]
)
def test_lifetime_is_exactly_five_days_for_records_and_sixty_for_smart_forms(issue, kind, lifetime):
    instant = database_now().replace(microsecond=123456) - timedelta(hours=1)
    with time_machine.travel(instant, tick=False):
        issued = issue(kind=kind)
    row = fresh(issued.access_code)
    assert row.issued_at == instant
    assert row.expires_at - row.issued_at == lifetime


def test_code_of_another_offices_patient_is_refused(office, other_office, practitioner):
    stranger = PatientFactory(office=other_office)
    with pytest.raises(IssueError, match="not part of this office"):
        services.access_code_issue(
            office=office,
            patient=stranger,
            kind="medical_records",
            actor=practitioner,
            channel="phone",
        )
    assert not AccessCode.objects.exists()


@pytest.mark.parametrize(
    ("channel", "address", "message"),
    [
        ("email", "", "Enter a valid email address"),
        ("email", "not-an-email", "Enter a valid email address"),
        ("email", "<script>@x", "Enter a valid email address"),
        ("sms", "", "Enter a mobile number"),
        ("sms", "06 12 34 56 78", "Enter a mobile number"),
        ("sms", "'; DROP TABLE x; --", "Enter a mobile number"),
        ("carrier-pigeon", "", "Choose how to give the code"),
    ],
)
def test_a_bad_delivery_address_is_refused_before_anything_is_issued(
    issue, channel, address, message
):
    with pytest.raises(IssueError, match=message):
        issue(channel=channel, address=address)
    assert not AccessCode.objects.exists()


def test_addresses_are_normalised(issue):
    by_email = issue(channel="email", address="  Anna.Smith@Example.NET ")
    by_sms = issue(channel="sms", address="+1 (514) 555-0123")
    assert fresh(by_email.access_code).address == "Anna.Smith@example.net"
    assert fresh(by_sms.access_code).address == "+15145550123"


def test_email_and_sms_are_queued_for_the_worker_after_commit_phone_and_print_are_not(
    issue, django_capture_on_commit_callbacks
):
    for channel, address, queued in [
        ("email", ANNA_EMAIL, 1),
        ("sms", ANNA_MOBILE, 1),
        ("phone", "", 0),
        ("print", "", 0),
    ]:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            issue(channel=channel, address=address)
        assert len(callbacks) == queued, channel


def test_a_repeated_issue_form_returns_the_first_code_without_issuing_another(issue):
    first = issue(issue_key="k" * 32)
    again = issue(issue_key="k" * 32)
    assert first.created and first.code
    assert not again.created
    assert again.code == "" and again.link == ""
    assert again.access_code.pk == first.access_code.pk
    assert AccessCode.objects.count() == 1


# --- expiry, against the database clock ----------------------------------------------------------
def test_code_issued_five_days_minus_one_second_ago_is_accepted(issue, patient):
    db_now = database_now()
    with time_machine.travel(db_now - FIVE_DAYS + SECOND, tick=False):
        issued = issue()
    redemption = redeem(issued, user=patient)
    assert redemption.grant.patient == issued.access_code.patient
    assert fresh(issued.access_code).status == "redeemed"


def test_code_issued_five_days_plus_one_second_ago_is_refused(issue, patient):
    db_now = database_now()
    with time_machine.travel(db_now - FIVE_DAYS - SECOND, tick=False):
        issued = issue()
    row = issued.access_code
    # Nothing is said about the code before the date of birth is given...
    with pytest.raises(DateOfBirthNeeded):
        redeem(issued, dob=None, user=patient)
    # ...a wrong one gets the generic answer...
    wrong = refused(lambda: redeem(issued, dob=WRONG_DOB, user=patient))
    assert (wrong.reason, wrong.message) == ("expired", GENERIC_FAILURE)
    # ...and the right one learns that it expired.
    right = refused(lambda: redeem(issued, user=patient))
    assert (right.reason, right.message) == ("expired", EXPIRED_MEDICAL_RECORDS)
    # No periodic task ran: the row still says active, and no access was given.
    assert fresh(row).status == "active"
    assert not PortalAccess.objects.exists()
    assert failure_reasons(row) == ["expired", "expired"]


@pytest.mark.parametrize(("offset", "accepted"), [(-SECOND, True), (SECOND, False)])
def test_smart_form_code_works_for_sixty_days(issue, patient, offset, accepted):
    db_now = database_now()
    with time_machine.travel(db_now - SIXTY_DAYS - offset, tick=False):
        issued = issue(kind="smart_form")
    if accepted:
        assert redeem(issued, dob=None, user=patient).grant.kind == "smart_form"
    else:
        right = refused(lambda: redeem(issued, user=patient))
        assert (right.reason, right.message) == ("expired", EXPIRED_SMART_FORM)


def test_expiry_is_decided_by_the_database_clock_not_the_web_servers(issue, patient):
    # The web server's clock runs six days ahead; the database says the code is a moment old.
    issued = issue()
    with time_machine.travel(database_now() + timedelta(days=6), tick=False):
        redemption = redeem(issued, user=patient)
    assert fresh(redemption.access_code).status == "redeemed"


def test_a_web_server_clock_running_late_does_not_keep_an_expired_code_alive(issue, patient):
    # Issued and tried on a web server whose clock is five days and a second behind the
    # database: by its own clock the code is brand new, by the database's it has expired.
    with time_machine.travel(database_now() - FIVE_DAYS - SECOND, tick=False):
        issued = issue()
        right = refused(lambda: redeem(issued, user=patient))
    assert right.reason == "expired"
    assert fresh(issued.access_code).status == "active"
    assert not PortalAccess.objects.exists()


def test_database_now_is_the_database_clock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        expected = cursor.fetchone()[0]
    with time_machine.travel(expected + timedelta(days=400), tick=False):
        assert database_now() == expected


# --- redemption -------------------------------------------------------------------------------
def test_right_code_and_date_of_birth_connect_the_records_once(
    issue, patient, django_capture_on_commit_callbacks
):
    issued = issue()
    with django_capture_on_commit_callbacks(execute=True):
        redemption = redeem(issued, user=patient, ip="203.0.113.9", identifier=patient.email)
    grant = redemption.grant
    assert (grant.user, grant.patient, grant.kind, grant.form_request) == (
        patient,
        issued.access_code.patient,
        "medical_records",
        None,
    )
    assert (grant.access_code, grant.granted_via, grant.revoked_at) == (
        issued.access_code,
        "code",
        None,
    )
    row = fresh(issued.access_code)
    assert (row.status, row.redeemed_by, row.sealed) == ("redeemed", patient, "")
    assert row.redeemed_at is not None
    [event] = audit("access_code.redeemed", row)
    assert event.actor == patient
    assert event.detail == {"via": "code", "kind": "medical_records", "grant": grant.pk}

    # The account holder and the patient's address on file are both told.
    assert sorted(message.to[0] for message in mail.outbox) == sorted([patient.email, ANNA_EMAIL])
    for message in mail.outbox:
        assert message.subject == (
            "Your medical records at Lakeside Clinic were connected to a patient portal account"
        )
        html = message.alternatives[0][0]
        assert patient.email in message.body and patient.email in html
        assert issued.code not in message.body.lower() and issued.code not in html.lower()
    to_holder = next(m for m in mail.outbox if m.to == [patient.email])
    assert "/portal/dashboard/" in to_holder.body
    to_file = next(m for m in mail.outbox if m.to == [ANNA_EMAIL])
    assert "of patient@example.net" in to_file.body

    # Used up: a second try is refused, and the user who used it is told so.
    again = refused(lambda: redeem(issued, user=patient))
    assert (again.reason, again.message) == ("used", USED_BY_YOU)
    other = refused(lambda: redeem(issued, user=UserFactory()))
    assert (other.reason, other.message) == ("used", USED)
    assert PortalAccess.objects.count() == 1


def test_only_the_account_holder_is_told_when_the_address_on_file_is_theirs(
    issue, anna, django_capture_on_commit_callbacks
):
    holder = UserFactory(email="Anna.Smith@example.net")
    issued = issue()
    with django_capture_on_commit_callbacks(execute=True):
        redeem(issued, user=holder)
    assert [message.to for message in mail.outbox] == [[holder.email]]


def test_wrong_date_of_birth_is_a_counted_failure_that_does_not_use_up_the_code(issue, patient):
    issued = issue()
    with time_machine.travel(window_start(), tick=False):
        wrong = refused(
            lambda: redeem(
                issued, dob=WRONG_DOB, user=patient, ip="203.0.113.9", identifier=patient.email
            )
        )
        assert (wrong.reason, wrong.message) == ("dob_mismatch", DOB_MISMATCH)
        row = fresh(issued.access_code)
        assert (row.status, row.dob_failures) == ("active", 1)
        assert failure_reasons(row) == ["dob_mismatch"]
        assert not PortalAccess.objects.exists()
        # It counted: four more wrong dates reach the account's limit of five.
        for _ in range(4):
            refused(lambda: redeem(issued, dob=WRONG_DOB, user=patient, identifier=patient.email))
        with pytest.raises(Throttled):
            redeem(issued, user=patient, identifier=patient.email)
    # Still usable by the patient from elsewhere, with the right date.
    assert redeem(issued, user=patient).grant is not None


def test_ten_wrong_dates_of_birth_lock_the_code(issue, patient):
    issued = issue()
    reasons = [refused(lambda: redeem(issued, dob=WRONG_DOB, user=patient)) for _ in range(10)]
    assert [r.reason for r in reasons] == ["dob_mismatch"] * 9 + ["locked"]
    assert reasons[-1].message == LOCKED
    row = fresh(issued.access_code)
    assert (row.status, row.cancel_reason, row.dob_failures) == ("cancelled", "locked", 10)
    assert row.cancelled_by is None
    [cancelled] = audit("access_code.cancelled", row)
    assert cancelled.detail["reason"] == "locked"
    # Locked for good: even the right date of birth only learns why.
    right = refused(lambda: redeem(issued, user=patient))
    assert (right.reason, right.message) == ("locked", LOCKED)
    assert not PortalAccess.objects.exists()


def test_no_date_of_birth_asks_for_it_without_counting_or_using_anything(issue, patient):
    issued = issue()
    for _ in range(12):
        with pytest.raises(DateOfBirthNeeded) as raised:
            redeem(issued, dob=None, user=patient, ip="203.0.113.9", identifier=patient.email)
    assert raised.value.reason == "dob_needed"
    row = fresh(issued.access_code)
    assert (row.status, row.dob_failures) == ("active", 0)
    assert failure_reasons() == []
    assert redeem(issued, user=patient, ip="203.0.113.9", identifier=patient.email).grant


def make_state(state: str, issue, practitioner):
    """A code in `state`, as (typed code, access code or None)."""
    if state == "unknown":
        return code_generate(), None
    if state == "expired":
        with time_machine.travel(database_now() - FIVE_DAYS - SECOND, tick=False):
            issued = issue()
        return issued.code, issued.access_code
    issued = issue()
    if state == "cancelled":
        access_code_cancel(access_code=issued.access_code, actor=practitioner)
    if state == "used":
        redeem(issued, user=UserFactory())
    if state == "expired-by-task":
        AccessCode.objects.filter(pk=issued.access_code.pk).update(status="expired")
    return issued.code, issued.access_code


STATES = ["unknown", "cancelled", "expired", "expired-by-task", "used"]


@pytest.mark.parametrize("state", STATES)
def test_a_code_that_cannot_be_used_gets_one_generic_answer_without_the_right_birth_date(
    issue, practitioner, patient, state
):
    code, _row = make_state(state, issue, practitioner)
    wrong = refused(lambda: redeem(code, dob=WRONG_DOB, user=patient))
    assert wrong.message == GENERIC_FAILURE
    assert wrong.reason == {"expired-by-task": "expired"}.get(state, state)


@pytest.mark.parametrize(
    ("state", "reason", "message"),
    [
        ("unknown", "unknown", GENERIC_FAILURE),
        ("cancelled", "cancelled", CANCELLED),
        ("expired", "expired", EXPIRED_MEDICAL_RECORDS),
        ("expired-by-task", "expired", EXPIRED_MEDICAL_RECORDS),
        ("used", "used", USED),
    ],
)
def test_the_right_birth_date_proves_ownership_and_learns_what_happened(
    issue, practitioner, patient, state, reason, message
):
    code, _row = make_state(state, issue, practitioner)
    right = refused(lambda: redeem(code, user=patient))
    assert (right.reason, right.message) == (reason, message)
    assert PortalAccess.objects.filter(user=patient).count() == 0


@pytest.mark.parametrize("state", STATES)
def test_without_a_birth_date_an_unusable_code_says_nothing_of_its_state(
    issue, practitioner, patient, state
):
    code, _row = make_state(state, issue, practitioner)
    if state == "unknown":
        unknown = refused(lambda: redeem(code, dob=None, user=patient))
        assert unknown.message == GENERIC_FAILURE
    else:
        # Asked for the date of birth, exactly like an active code.
        with pytest.raises(DateOfBirthNeeded):
            redeem(code, dob=None, user=patient)


def test_every_failure_is_audited_with_its_reason(issue, practitioner, patient):
    issued = issue()
    refused(lambda: redeem(issued, dob=WRONG_DOB, user=patient))
    refused(lambda: redeem(code_generate(), user=patient))
    access_code_cancel(access_code=issued.access_code, actor=practitioner)
    refused(lambda: redeem(issued, user=patient))
    events = audit("access_code.redeem_failed")
    assert [(e.detail["reason"], e.detail["via"]) for e in events] == [
        ("dob_mismatch", "code"),
        ("unknown", "code"),
        ("cancelled", "code"),
    ]
    assert events[0].patient == issued.access_code.patient
    assert events[1].patient is None and events[1].target_id == ""


def test_a_typing_mistake_is_not_a_failed_attempt(issue, patient):
    issued = issue()
    for typed in ["aardvark", "<script>alert(1)</script>", "x" * 10_000, "🙂 🙂 🙂 🙂"]:
        with pytest.raises(CodeFormatError):
            redeem(typed, user=patient, ip="203.0.113.9", identifier=patient.email)
    assert failure_reasons() == []
    assert redeem(issued, user=patient, ip="203.0.113.9", identifier=patient.email).grant


def test_the_code_is_read_however_it_was_typed(issue, patient):
    issued = issue()
    a, b, c, d = issued.words
    typed = [f" {a.upper()} ", re.sub("[^a-z]", "", b)[:3], f"{c}.", d.replace("-", " ")]
    assert redeem(typed, user=patient).access_code == issued.access_code


def test_sql_in_the_fields_is_only_ever_a_wrong_guess(issue, patient):
    issued = issue()
    wrong = refused(lambda: redeem("'; DROP TABLE accesscodes_accesscode; --", user=patient))
    assert (wrong.reason, wrong.message) == ("unknown", GENERIC_FAILURE)
    assert fresh(issued.access_code).status == "active"


# --- Smart Form codes -------------------------------------------------------------------------
def test_smart_form_code_opens_without_a_birth_date_and_stays_usable(issue, form_request):
    issued = issue(kind="smart_form", form_request=form_request)
    opened = redeem(issued, dob=None, user=None)
    assert opened.grant is None
    assert opened.access_code.form_request == form_request
    assert fresh(issued.access_code).status == "active"
    assert len(audit("access_code.opened", issued.access_code)) == 1
    # Opening it twice still works: it is used up only when the form is submitted.
    assert redeem(issued, dob=None).access_code == issued.access_code


def test_smart_form_code_gives_a_user_that_form_and_never_the_medical_records(
    issue, form_request, patient
):
    issued = issue(kind="smart_form", form_request=form_request)
    # Even with the right date of birth, the grant is to the one form.
    grant = redeem(issued, user=patient).grant
    assert (grant.kind, grant.form_request, grant.patient) == (
        "smart_form",
        form_request,
        form_request.patient,
    )
    assert not PortalAccess.objects.filter(user=patient, kind="medical_records").exists()
    # A second use by the same account gives nothing new.
    assert redeem(issued, dob=None, user=patient).grant == grant
    assert PortalAccess.objects.filter(user=patient).count() == 1
    assert fresh(issued.access_code).status == "active"
    assert audit("access_code.redeemed") == []


def test_smart_form_code_is_used_up_when_the_form_is_submitted(issue, form_request, patient):
    issued = issue(kind="smart_form", form_request=form_request)
    redeem(issued, dob=None, user=patient)
    assert access_code_form_submitted(form_request=form_request, user=patient) == 1
    row = fresh(issued.access_code)
    assert (row.status, row.redeemed_by) == ("redeemed", patient)
    right = refused(lambda: redeem(issued, user=patient))
    assert (right.reason, right.message) == ("used", FORM_SUBMITTED)
    wrong = refused(lambda: redeem(issued, dob=WRONG_DOB, user=patient))
    assert wrong.message == GENERIC_FAILURE
    assert access_code_form_submitted(form_request=form_request) == 0


# --- access links ------------------------------------------------------------------------------
def test_link_token_with_the_birth_date_connects_the_records(issue, patient):
    issued = issue(channel="email", address=ANNA_EMAIL)
    redemption = access_code_redeem(token=token_of(issued), date_of_birth=ANNA_DOB, user=patient)
    assert redemption.grant.granted_via == "link"
    assert redemption.access_code == issued.access_code
    assert fresh(issued.access_code).status == "redeemed"


def test_link_token_with_a_wrong_birth_date_is_a_counted_mismatch(issue, patient):
    issued = issue(channel="email", address=ANNA_EMAIL)
    wrong = refused(
        lambda: access_code_redeem(token=token_of(issued), date_of_birth=WRONG_DOB, user=patient)
    )
    assert wrong.reason == "dob_mismatch"
    assert fresh(issued.access_code).dob_failures == 1


def test_a_cancelled_links_holder_is_told_it_was_cancelled(issue, practitioner, patient):
    issued = issue(channel="email", address=ANNA_EMAIL)
    access_code_cancel(access_code=issued.access_code, actor=practitioner)
    gone = refused(lambda: access_code_verify(token=token_of(issued), user=patient))
    assert (gone.reason, gone.message) == ("cancelled", CANCELLED)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short",
        "!" * 24,
        "../../../../etc/passwd...",
        "a" * 10_000,
        "<script>alert(1)</script>",
        "abcdefghijklmnopqrstuvw\x00",
        12345,
        # Well-formed, but no code has it.
        "AAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_a_malformed_or_unknown_link_token_gets_the_generic_link_answer(issue, patient, token):
    issue(channel="email", address=ANNA_EMAIL)
    bad = refused(
        lambda: access_code_redeem(
            token=token, date_of_birth=ANNA_DOB, user=patient, ip="203.0.113.9"
        )
    )
    assert (bad.reason, bad.message) == ("unknown", GENERIC_LINK_FAILURE)
    [event] = audit("access_code.redeem_failed")
    assert event.detail == {"reason": "unknown", "via": "link"}
    assert not PortalAccess.objects.exists()


# --- rate limits, in one process ------------------------------------------------------------------
def window_start(seconds: int = 1800) -> float:
    """A moment at the start of the current half hour, where both limits' windows begin."""
    now = database_now().timestamp()
    return now - now % seconds + 30


def test_eleventh_attempt_from_one_ip_is_throttled_and_audited(issue, patient):
    issued = issue()
    with time_machine.travel(window_start(), tick=False):
        for _ in range(10):
            refused(lambda: redeem(code_generate(), user=patient, ip="203.0.113.9"))
        with pytest.raises(Throttled) as throttled:
            redeem(issued, user=patient, ip="203.0.113.9")
    # 9.5 minutes are left of the ten-minute window.
    assert throttled.value.minutes == 10
    assert throttled.value.reason == "throttled"
    assert "try again in 10 minutes" in throttled.value.message
    [event] = audit("access_code.throttled")
    assert event.detail == {"limit": "redeem-ip"}
    assert fresh(issued.access_code).status == "active"
    # Another address is not affected.
    assert redeem(issued, user=patient, ip="198.51.100.4").grant


def test_throttle_lifts_when_the_window_ends(issue, patient):
    issued = issue()
    start = window_start()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            refused(lambda: redeem(code_generate(), user=patient, identifier="p@example.org"))
        with pytest.raises(Throttled) as throttled:
            redeem(issued, user=patient, identifier="p@example.org")
    assert throttled.value.minutes == 15
    with time_machine.travel(start + 14 * 60, tick=False):
        with pytest.raises(Throttled) as throttled:
            redeem(issued, user=patient, identifier="p@example.org")
        assert throttled.value.minutes == 1
    with time_machine.travel(start + 15 * 60, tick=False):
        assert redeem(issued, user=patient, identifier="p@example.org").grant


# --- cancel and reissue ---------------------------------------------------------------------------
def test_cancelling_an_active_code_stops_it_at_once(issue, practitioner, patient):
    issued = issue(channel="email", address=ANNA_EMAIL)
    assert access_code_cancel(access_code=issued.access_code, actor=practitioner) is True
    row = fresh(issued.access_code)
    assert (row.status, row.cancelled_by, row.cancel_reason, row.sealed) == (
        "cancelled",
        practitioner,
        "cancelled",
        "",
    )
    assert row.cancelled_at is not None
    right = refused(lambda: redeem(issued, user=patient))
    assert (right.reason, right.message) == ("cancelled", CANCELLED)
    link = refused(lambda: access_code_redeem(token=token_of(issued), user=patient))
    assert link.reason == "cancelled"
    [event] = audit("access_code.cancelled", row)
    assert event.actor == practitioner
    assert event.detail == {"reason": "cancelled", "grants_revoked": 0, "was_active": True}
    # Nothing left to stop.
    assert access_code_cancel(access_code=row, actor=practitioner) is False
    assert len(audit("access_code.cancelled", row)) == 1


def test_cancelling_a_redeemed_code_takes_back_the_access_it_gave(issue, practitioner, patient):
    issued = issue()
    grant = redeem(issued, user=patient).grant
    assert access_code_cancel(access_code=issued.access_code, actor=practitioner) is True
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert (grant.revoked_by, grant.revoke_reason) == (practitioner, "clinic")
    assert not PortalAccess.objects.active().filter(user=patient).exists()
    assert fresh(issued.access_code).status == "redeemed"
    [event] = audit("access_code.cancelled", issued.access_code)
    assert event.detail == {"reason": "cancelled", "grants_revoked": 1, "was_active": False}
    assert access_code_cancel(access_code=issued.access_code, actor=practitioner) is False


def test_cancelling_a_smart_form_code_takes_back_the_form(issue, practitioner, patient):
    issued = issue(kind="smart_form")
    grant = redeem(issued, dob=None, user=patient).grant
    access_code_cancel(access_code=issued.access_code, actor=practitioner)
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert refused(lambda: redeem(issued, user=patient)).message == CANCELLED


def test_reissue_cancels_the_old_code_and_issues_a_new_one_in_one_step(
    issue, practitioner, patient
):
    old = issue(channel="print")
    new = access_code_reissue(
        access_code=old.access_code, actor=practitioner, channel="email", address=ANNA_EMAIL
    )
    old_row, new_row = fresh(old.access_code), fresh(new.access_code)
    assert (old_row.status, old_row.cancel_reason, old_row.cancelled_by) == (
        "cancelled",
        "reissued",
        practitioner,
    )
    assert (new_row.status, new_row.replaces, new_row.kind, new_row.patient) == (
        "active",
        old_row,
        "medical_records",
        old_row.patient,
    )
    assert old_row.replaced_by == new_row
    assert (new_row.channel, new_row.address) == ("email", ANNA_EMAIL)
    assert new.created and new.code and new.code != old.code
    assert refused(lambda: redeem(old, user=patient)).message == CANCELLED
    assert redeem(new, user=patient).grant is not None
    [issued_event] = audit("access_code.issued", new_row)
    assert issued_event.detail["replaces"] == old_row.pk


def test_reissuing_the_same_code_twice_is_refused(issue, practitioner):
    old = issue()
    access_code_reissue(access_code=old.access_code, actor=practitioner, channel="phone")
    with pytest.raises(IssueError, match="already replaced"):
        access_code_reissue(access_code=old.access_code, actor=practitioner, channel="phone")
    assert AccessCode.objects.count() == 2
    assert AccessCode.objects.filter(status="active").count() == 1


def test_a_repeated_reissue_form_returns_the_first_new_code(issue, practitioner):
    old = issue()
    first = access_code_reissue(
        access_code=old.access_code, actor=practitioner, channel="phone", issue_key="r" * 32
    )
    again = access_code_reissue(
        access_code=old.access_code, actor=practitioner, channel="phone", issue_key="r" * 32
    )
    assert not again.created and again.code == ""
    assert again.access_code.pk == first.access_code.pk
    assert AccessCode.objects.count() == 2


def test_reissuing_a_smart_form_keeps_its_form_and_refuses_once_submitted(
    issue, practitioner, form_request
):
    old = issue(kind="smart_form", form_request=form_request)
    new = access_code_reissue(access_code=old.access_code, actor=practitioner, channel="print")
    assert fresh(new.access_code).form_request == form_request
    FormRequest.objects.filter(pk=form_request.pk).update(status=FormRequest.Status.SUBMITTED)
    with pytest.raises(IssueError, match="already been submitted"):
        access_code_reissue(access_code=new.access_code, actor=practitioner, channel="print")


def test_reissuing_an_expired_code_gives_a_new_five_day_code(issue, practitioner, patient):
    with time_machine.travel(database_now() - timedelta(days=6), tick=False):
        old = issue()
    new = access_code_reissue(access_code=old.access_code, actor=practitioner, channel="phone")
    row = fresh(new.access_code)
    assert row.expires_at - row.issued_at == FIVE_DAYS
    assert redeem(new, user=patient).grant is not None


# --- edge cases found in review -----------------------------------------------------------------
def test_a_records_code_cannot_be_used_without_an_account_and_stays_active(issue):
    issued = issue()
    with pytest.raises(RedeemError) as caught:
        access_code_redeem(code_id=issued.access_code.pk, date_of_birth=ANNA_DOB, user=None)
    assert caught.value.reason == "account_needed"
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"


def test_a_records_code_whose_date_of_birth_was_removed_blames_nobody(issue, anna, patient):
    issued = issue()
    anna.date_of_birth = None
    anna.save()
    with pytest.raises(RedeemError) as caught:
        access_code_redeem(typed=issued.code, date_of_birth=ANNA_DOB, user=patient, ip="10.9.9.9")
    assert caught.value.reason == "no_dob_on_file"
    assert "no date of birth on file" in caught.value.message
    issued.access_code.refresh_from_db()
    assert issued.access_code.dob_failures == 0
    assert issued.access_code.status == "active"


def test_cancelling_before_the_email_went_out_shows_it_will_not_be_sent(issue, practitioner):
    issued = issue(channel="email", address=ANNA_EMAIL)  # eager task not run: still queued
    assert AccessCode.objects.get(pk=issued.access_code.pk).delivery_state == "queued"
    access_code_cancel(access_code=issued.access_code, actor=practitioner)
    row = AccessCode.objects.get(pk=issued.access_code.pk)
    assert (row.delivery_state, row.delivery_error) == ("failed", "cancelled before sending")
    assert row.sealed == ""


def test_sending_a_smart_form_twice_with_one_form_key_records_one_form(anna, practitioner, office):
    from records.models import FormRequest
    from records.services.smartforms import smart_forms_install_defaults

    form = smart_forms_install_defaults(office=office)
    first = services.smart_form_send(
        office=office,
        patient=anna,
        form=form,
        actor=practitioner,
        channel="print",
        issue_key="k" * 32,
    )
    again = services.smart_form_send(
        office=office,
        patient=anna,
        form=form,
        actor=practitioner,
        channel="print",
        issue_key="k" * 32,
    )
    assert first.created and not again.created
    assert again.access_code.pk == first.access_code.pk
    assert FormRequest.objects.filter(patient=anna).count() == 1
