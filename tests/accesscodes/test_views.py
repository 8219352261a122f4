"""The clinic side of access codes: issuing a Medical Records Access Code, sending a Smart Form
with its link and backup code, the code shown once, the patient page's list, cancel, reissue,
and everything a clinic person can get wrong or try on purpose."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import segno
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accesscodes import services
from accesscodes.models import AccessCode
from outsmart import sms
from outsmart.audit.models import AuditEvent
from portal.models import PortalAccess
from records.models import FormRequest
from records.services.smartforms import form_request_create, smart_forms_install_defaults
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

TORONTO = ZoneInfo("America/Toronto")
DOB = date(1980, 3, 14)


@pytest.fixture
def olivia(office):
    return PatientFactory(
        office=office,
        first_name="Olivia",
        last_name="Brown",
        date_of_birth=DOB,
        email="olivia@example.net",
        mobile_phone="+14165550134",
    )


@pytest.fixture
def intake(office):
    return smart_forms_install_defaults(office=office)


@pytest.fixture
def drawn(monkeypatch):
    """Every code and link token the services draw, in order: the tests' only way to know a
    code once the response is gone, as it is for the clinic."""
    codes, tokens = [], []
    real_code, real_token = services.code_generate, services.new_link_token

    def code():
        codes.append(real_code())
        return codes[-1]

    def token():
        tokens.append(real_token())
        return tokens[-1]

    monkeypatch.setattr(services, "code_generate", code)
    monkeypatch.setattr(services, "new_link_token", token)
    return codes, tokens


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def key() -> str:
    return secrets.token_hex(16)


def issue_url(patient) -> str:
    return reverse("accesscodes:issue_medical_records", args=[patient.pk])


def send_url(patient) -> str:
    return reverse("accesscodes:send_smart_form", args=[patient.pk])


def patient_page(client, patient) -> str:
    response = client.get(reverse("records:patient", args=[patient.pk]))
    assert response.status_code == 200
    return response.content.decode()


def spellings(code: str) -> list[str]:
    words = code.split(" ")
    return [" ".join(words), "".join(words), "-".join(words), code.upper(), "".join(words).upper()]


def shows_code(html: str, code: str) -> bool:
    """The words of `code`, in order, as a page shows them (one element per word)."""
    text = re.sub(r"<[^>]+>", " ", html)
    text = " ".join(text.split())
    return " ".join(code.split(" ")) in text.lower()


def table_dump(*tables: str) -> str:
    dump = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
            dump.append(repr(cursor.fetchall()))
    return "\n".join(dump).lower()


def issued_code(patient, actor, *, channel="phone", kind="medical_records", **kwargs):
    form_request = kwargs.pop("form_request", None)
    if kind == "smart_form" and form_request is None:
        form_request = form_request_create(
            office=patient.office,
            patient=patient,
            form=smart_forms_install_defaults(office=patient.office)
            if not patient.office.smart_forms.exists()
            else patient.office.smart_forms.first(),
            actor=actor,
            request=None,
        )
    return services.access_code_issue(
        office=patient.office,
        patient=patient,
        kind=kind,
        actor=actor,
        channel=channel,
        form_request=form_request,
        **kwargs,
    )


# --- issuing a Medical Records Access Code ---------------------------------------------------


def test_practitioner_reads_out_a_new_code_shown_once_in_large_words(
    client, practitioner, olivia, verified_login, drawn
):
    verified_login(practitioner)
    form = client.get(issue_url(olivia))
    assert form.status_code == 200
    assert 'name="issue_key"' in form.content.decode()

    response = client.post(issue_url(olivia), {"channel": "phone", "issue_key": key()})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    (code,), _tokens = drawn
    assert "Read these four words to the patient" in html
    assert shows_code(html, code)
    assert html.count('class="code-words code-words-large"') == 1
    access_code = AccessCode.objects.get()
    local_expiry = access_code.expires_at.astimezone(TORONTO)
    assert local_expiry.strftime("%B %-d, %Y") in html
    assert "cannot be shown again" in html
    assert (access_code.kind, access_code.channel, access_code.delivery_state) == (
        "medical_records",
        "phone",
        "handed",
    )
    assert access_code.expires_at - access_code.issued_at == timedelta(days=5)
    assert (access_code.issued_by, access_code.address, access_code.sealed) == (
        practitioner,
        "",
        "",
    )

    page = patient_page(client, olivia)
    assert not shows_code(page, code)
    assert "Medical Records Access Code" in page and "given by the clinic (read out)" in page
    assert AuditEvent.objects.filter(action="access_code.issued", actor=practitioner).count() == 1


def test_printed_slip_has_the_words_a_qr_code_of_the_link_and_the_instructions(
    client, practitioner, olivia, verified_login, drawn
):
    verified_login(practitioner)
    response = client.post(issue_url(olivia), {"channel": "print", "issue_key": key()})

    assert response.status_code == 200
    html = response.content.decode()
    (code,), (token,) = drawn
    assert shows_code(html, code)
    link = services.access_link(token)
    qr = segno.make(link, error="m").svg_inline(
        scale=4, omitsize=True, dark="#000", light="#fff", title="QR code of the access link"
    )
    assert qr in html  # the QR code encodes this code's access link
    assert link not in html.replace(qr, "")  # the link itself is not printed as text
    assert "http://testserver/portal/" in html or "/portal/" in html
    assert "Register Here" in html and "+Access Code" in html
    expiry = AccessCode.objects.get().expires_at.astimezone(TORONTO)
    assert expiry.strftime("%A, %B %-d, %Y") in html
    assert "js/print.js" in html and "data-print" in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    assert "cannot be shown again" in html
    assert "slip-page" in html


def test_emailed_code_goes_out_after_commit_with_the_link_as_a_button_and_the_code_as_backup(
    client, practitioner, olivia, verified_login, drawn, django_capture_on_commit_callbacks
):
    verified_login(practitioner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            issue_url(olivia),
            {"channel": "email", "email": " Olivia@Example.NET ", "issue_key": key()},
        )

    assert response.status_code == 200
    html = response.content.decode()
    (code,), (token,) = drawn
    assert "Sent to <strong>Olivia@example.net</strong>" in html
    assert "delivery state shows on the patient page" in html
    assert shows_code(html, code) and "cannot be shown again" in html

    (email,) = mail.outbox
    assert email.to == ["Olivia@example.net"]
    link = services.access_link(token)
    body_html = email.alternatives[0][0]
    assert re.search(rf'<a href="{re.escape(link)}"[^>]*>Open your medical records</a>', body_html)
    assert code.upper() in email.body and link in email.body
    access_code = AccessCode.objects.get()
    assert (access_code.address, access_code.delivery_state, access_code.sealed) == (
        "Olivia@example.net",
        "sent",
        "",
    )
    assert "Sent" in patient_page(client, olivia)


def test_texted_code_goes_to_the_normalised_mobile_number(
    client, practitioner, olivia, verified_login, drawn, django_capture_on_commit_callbacks
):
    verified_login(practitioner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            issue_url(olivia),
            {"channel": "sms", "mobile": "(416) 555-0199", "issue_key": key()},
        )

    assert response.status_code == 200
    assert "Sent to <strong>+14165550199</strong>" in response.content.decode()
    (message,) = sms.outbox
    (code,), (token,) = drawn
    assert message.to == "+14165550199"
    assert code.upper() in message.body and services.access_link(token) in message.body
    assert AccessCode.objects.get().delivery_state == "sent"


@pytest.mark.parametrize("channel", ["email", "sms", "phone", "print"])
def test_no_plain_code_or_link_is_stored_whatever_the_delivery(
    client,
    practitioner,
    olivia,
    verified_login,
    drawn,
    channel,
    django_capture_on_commit_callbacks,
):
    verified_login(practitioner)
    tables = ("accesscodes_accesscode", AuditEvent._meta.db_table, "django_session")
    data = {"channel": channel, "email": olivia.email, "mobile": "+14165550134"}
    with django_capture_on_commit_callbacks(execute=False) as pending:
        response = client.post(issue_url(olivia), {**data, "issue_key": key()})
        assert response.status_code == 200
        # Before delivery the worker's copy is sealed (encrypted), never plain.
        before = table_dump(*tables)
    for callback in pending:
        callback()
    after = table_dump(*tables)
    (code,), (token,) = drawn
    for dump in (before, after):
        for spelling in spellings(code):
            assert spelling.lower() not in dump
        assert token.lower() not in dump
    assert AccessCode.objects.get().sealed == ""


def test_the_same_form_posted_twice_issues_one_code_and_does_not_show_it_again(
    client, practitioner, olivia, verified_login, drawn
):
    verified_login(practitioner)
    data = {"channel": "phone", "issue_key": key()}
    first = client.post(issue_url(olivia), data)
    again = client.post(issue_url(olivia), data)

    assert first.status_code == 200
    assert again.status_code == 409
    html = again.content.decode()
    (code,), _ = drawn
    assert "This code was already issued" in html and "shown only once" in html
    assert not shows_code(html, code)
    access_code = AccessCode.objects.get()
    assert reverse("accesscodes:reissue", args=[access_code.pk]) in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"channel": "fax"}, "channel", "Choose email, SMS, phone or printed slip."),
        ({}, "channel", "Choose how the patient gets the code."),
        ({"channel": "email", "email": ""}, "email", "Enter the email address"),
        ({"channel": "email", "email": "olivia@"}, "email", "Enter a valid email address"),
        ({"channel": "email", "email": "a" * 10_000 + "@x.net"}, "email", "valid email address"),
        (
            {"channel": "email", "email": "<script>alert(1)</script>@x.net"},
            "email",
            "valid email address",
        ),
        ({"channel": "sms", "mobile": ""}, "mobile", "Enter the mobile number"),
        ({"channel": "sms", "mobile": "12"}, "mobile", "with its country code"),
        ({"channel": "sms", "mobile": "06 12 34 56 78"}, "mobile", "with its country code"),
        ({"channel": "sms", "mobile": "'; DROP TABLE x; --"}, "mobile", "with its country code"),
        ({"channel": "sms", "mobile": "📞📞📞"}, "mobile", "with its country code"),
        ({"channel": "sms", "mobile": "4" * 10_000}, "mobile", "with its country code"),
    ],
)
def test_bad_delivery_input_re_renders_the_form_with_a_clear_message_and_issues_nothing(
    client, practitioner, olivia, verified_login, data, field, message
):
    verified_login(practitioner)
    response = client.post(issue_url(olivia), {**data, "issue_key": key()})

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    assert AccessCode.objects.count() == 0
    assert not mail.outbox and not sms.outbox


@pytest.mark.parametrize("issue_key", ["", "not-hex", "a" * 31, "g" * 32])
def test_a_missing_or_forged_issue_key_asks_to_submit_again_with_a_fresh_key(
    client, practitioner, olivia, verified_login, issue_key
):
    verified_login(practitioner)
    response = client.post(issue_url(olivia), {"channel": "phone", "issue_key": issue_key})

    assert response.status_code == 400
    html = response.content.decode()
    assert "This form is out of date" in html
    fresh = re.search(r'name="issue_key" value="([0-9a-f]{32})"', html)
    assert fresh and fresh.group(1) != issue_key
    assert AccessCode.objects.count() == 0


def test_a_patient_without_a_date_of_birth_gets_no_medical_records_code(
    client, practitioner, office, verified_login
):
    patient = PatientFactory(office=office, first_name="Noah", date_of_birth=None)
    verified_login(practitioner)

    page = patient_page(client, patient)
    assert "needs Noah’s date of birth on file" in page
    assert reverse("records:patient_edit", args=[patient.pk]) in page
    assert issue_url(patient) not in page

    explained = client.get(issue_url(patient))
    assert explained.status_code == 200
    assert "A date of birth is needed" in explained.content.decode()
    refused = client.post(issue_url(patient), {"channel": "phone", "issue_key": key()})
    assert refused.status_code == 400
    assert "No code was issued" in refused.content.decode()
    assert AccessCode.objects.count() == 0


def test_staff_cannot_issue_cancel_or_reissue_medical_records_codes(
    client, staff, practitioner, olivia, verified_login
):
    access_code = issued_code(olivia, practitioner).access_code
    verified_login(staff)

    assert client.get(issue_url(olivia)).status_code == 403
    assert client.post(issue_url(olivia), {"channel": "phone", "issue_key": key()}).status_code == (
        403
    )
    cancel = reverse("accesscodes:cancel", args=[access_code.pk])
    reissue = reverse("accesscodes:reissue", args=[access_code.pk])
    assert client.get(cancel).status_code == 403
    assert client.post(cancel).status_code == 403
    assert client.get(reissue).status_code == 403
    assert client.post(reissue, {"channel": "phone", "issue_key": key()}).status_code == 403

    assert AccessCode.objects.count() == 1
    access_code.refresh_from_db()
    assert access_code.status == "active"
    assert AuditEvent.objects.filter(action="access.denied", actor=staff).count() == 3
    page = patient_page(client, olivia)
    assert "Medical Records Access Code" in page  # they see it on the list
    assert cancel not in page and reissue not in page and issue_url(olivia) not in page


def test_another_offices_patient_code_and_form_answer_404_and_change_nothing(
    client, practitioner, olivia, intake, other_office, outsider, verified_login
):
    theirs = PatientFactory(office=other_office)
    their_code = issued_code(theirs, outsider).access_code
    their_form = smart_forms_install_defaults(office=other_office)
    verified_login(practitioner)

    assert client.get(issue_url(theirs)).status_code == 404
    assert client.post(issue_url(theirs), {"channel": "phone", "issue_key": key()}).status_code == (
        404
    )
    assert client.get(send_url(theirs)).status_code == 404
    for name in ("accesscodes:cancel", "accesscodes:reissue"):
        url = reverse(name, args=[their_code.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"channel": "phone", "issue_key": key()}).status_code == 404

    # Another office's Smart Form, sent to one of ours.
    response = client.post(
        send_url(olivia), {"smart_form": their_form.pk, "channel": "phone", "issue_key": key()}
    )
    assert response.status_code == 400
    assert "Choose one of this office" in response.content.decode()
    their_code.refresh_from_db()
    assert their_code.status == "active"
    assert AccessCode.objects.count() == 1
    assert FormRequest.objects.count() == 0


# --- sending a Smart Form ------------------------------------------------------------------


def test_staff_send_a_smart_form_by_email_with_its_access_link_and_backup_code(
    client, staff, olivia, intake, verified_login, drawn, django_capture_on_commit_callbacks
):
    verified_login(staff)
    page = patient_page(client, olivia)
    assert send_url(olivia) in page
    form = client.get(send_url(olivia)).content.decode()
    assert 'value="olivia@example.net"' in form and 'value="+14165550134"' in form

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            send_url(olivia),
            {
                "smart_form": intake.pk,
                "channel": "email",
                "email": olivia.email,
                "issue_key": key(),
            },
        )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Smart Form sent" in html and "Sent to <strong>olivia@example.net</strong>" in html
    form_request = FormRequest.objects.get()
    access_code = AccessCode.objects.get()
    assert (form_request.patient, form_request.form, form_request.created_by) == (
        olivia,
        intake,
        staff,
    )
    assert (access_code.kind, access_code.form_request, access_code.issued_by) == (
        "smart_form",
        form_request,
        staff,
    )
    assert access_code.expires_at - access_code.issued_at == timedelta(days=60)
    (email,) = mail.outbox
    (code,), (token,) = drawn
    link = services.access_link(token)
    assert re.search(
        rf'<a href="{re.escape(link)}"[^>]*>Fill in the Smart Form</a>', email.alternatives[0][0]
    )
    assert code.upper() in email.body
    page = patient_page(client, olivia)
    assert "Smart Form access link: “New patient intake”" in page
    assert not shows_code(page, code)


def test_a_smart_form_can_be_printed_or_read_out_too(
    client, practitioner, olivia, intake, verified_login, drawn
):
    verified_login(practitioner)
    printed = client.post(
        send_url(olivia), {"smart_form": intake.pk, "channel": "print", "issue_key": key()}
    )
    read = client.post(
        send_url(olivia), {"smart_form": intake.pk, "channel": "phone", "issue_key": key()}
    )
    first, second = drawn[0]
    assert printed.status_code == read.status_code == 200
    assert shows_code(printed.content.decode(), first)
    assert "opens only the questionnaire “New patient intake”" in printed.content.decode()
    assert shows_code(read.content.decode(), second)
    assert FormRequest.objects.count() == AccessCode.objects.count() == 2


def test_sending_the_same_smart_form_twice_records_one_form_and_one_code(
    client, practitioner, olivia, intake, verified_login
):
    verified_login(practitioner)
    data = {"smart_form": intake.pk, "channel": "phone", "issue_key": key()}
    assert client.post(send_url(olivia), data).status_code == 200
    again = client.post(send_url(olivia), data)
    assert again.status_code == 409
    assert FormRequest.objects.count() == AccessCode.objects.count() == 1


def test_a_smart_form_whose_code_cannot_be_issued_is_not_recorded_as_sent(
    client, practitioner, olivia, intake, verified_login, monkeypatch
):
    def refuse(**kwargs):
        raise services.IssueError("No free access code could be drawn; try again.")

    monkeypatch.setattr(services, "access_code_issue", refuse)
    verified_login(practitioner)
    response = client.post(
        send_url(olivia), {"smart_form": intake.pk, "channel": "phone", "issue_key": key()}
    )
    assert response.status_code == 400
    assert "No free access code could be drawn" in response.content.decode()
    assert FormRequest.objects.count() == 0
    assert not AuditEvent.objects.filter(action="form_request.created").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channel": "phone"}, "Choose the Smart Form to send."),
        ({"smart_form": "999999", "channel": "phone"}, "active Smart Forms"),
        ({"smart_form": "<b>1</b>", "channel": "phone"}, "active Smart Forms"),
        ({"smart_form": "INTAKE", "channel": "pigeon"}, "Choose email, SMS, phone or printed slip"),
        ({"smart_form": "INTAKE", "channel": "email", "email": "nope"}, "valid email address"),
        ({"smart_form": "INTAKE", "channel": "sms", "mobile": "555"}, "country code"),
    ],
)
def test_bad_smart_form_input_re_renders_the_form_and_sends_nothing(
    client, practitioner, olivia, intake, verified_login, data, message
):
    if data.get("smart_form") == "INTAKE":
        data = {**data, "smart_form": intake.pk}
    verified_login(practitioner)
    response = client.post(send_url(olivia), {**data, "issue_key": key()})
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert FormRequest.objects.count() == AccessCode.objects.count() == 0


def test_an_archived_smart_form_cannot_be_sent(
    client, practitioner, olivia, intake, verified_login
):
    intake.is_active = False
    intake.save()
    verified_login(practitioner)
    page = client.get(send_url(olivia)).content.decode()
    assert "no active Smart Form with questions" in page
    response = client.post(
        send_url(olivia), {"smart_form": intake.pk, "channel": "phone", "issue_key": key()}
    )
    assert response.status_code == 400
    assert FormRequest.objects.count() == AccessCode.objects.count() == 0


def test_recording_a_form_given_on_paper_still_sends_no_code(
    client, staff, olivia, intake, verified_login
):
    verified_login(staff)
    response = client.post(
        reverse("records:form_request_create", args=[olivia.pk]), {"form": intake.pk}
    )
    assert response.status_code == 302
    assert FormRequest.objects.count() == 1
    assert AccessCode.objects.count() == 0
    assert "Record a Smart Form given to Olivia on paper" in patient_page(client, olivia)


# --- the patient page's list -------------------------------------------------------------------


def test_patient_page_lists_each_code_with_delivery_issuer_times_and_state(
    client, practitioner, admin, patient, olivia, intake, verified_login, drawn
):
    redeemed = issued_code(olivia, admin, channel="print")
    services.access_code_redeem(typed=redeemed.code, date_of_birth=DOB, user=patient)
    cancelled = issued_code(olivia, practitioner).access_code
    services.access_code_cancel(access_code=cancelled, actor=admin)
    expired = issued_code(olivia, practitioner).access_code
    AccessCode.objects.filter(pk=expired.pk).update(
        issued_at=timezone.now() - timedelta(days=6), expires_at=timezone.now() - timedelta(days=1)
    )
    failed = issued_code(olivia, practitioner, channel="email", address="olivia@example.net")
    AccessCode.objects.filter(pk=failed.access_code.pk).update(
        delivery_state="failed", delivery_error="SMTPRecipientsRefused", sealed=""
    )
    queued = issued_code(olivia, practitioner, channel="sms", address="+14165550134")
    form = issued_code(olivia, practitioner, kind="smart_form", channel="phone")
    verified_login(practitioner)

    page = patient_page(client, olivia)
    section = page[page.index('id="access-codes"') : page.index('id="forms-h"')]
    assert section.count('class="access-code is-') == 6
    assert "Redeemed" in section and "by patient@example.net" in section
    assert re.search(r"Cancelled</span>\s*·\s*<time[^>]*>[^<]+</time>\s*by \S+", section)
    assert "Expired" in section
    assert "Failed" in section and "SMTPRecipientsRefused" in section
    assert 'SMS to <span class="code-address">+14165550134</span>' in section
    assert "Queued" in section
    assert "Smart Form access link: “New patient intake”" in section
    assert "Printed slip" in section and "given by the clinic" in section
    issued_local = timezone.localtime(queued.access_code.issued_at, TORONTO)
    assert issued_local.strftime("%b %-d, %Y, %-I:%M") in section
    # Cancel: the active ones and the redeemed one (takes back access); not cancelled/expired.
    cancel = lambda c: reverse("accesscodes:cancel", args=[c.pk])  # noqa: E731
    reissue = lambda c: reverse("accesscodes:reissue", args=[c.pk])  # noqa: E731
    for code in (redeemed.access_code, failed.access_code, queued.access_code, form.access_code):
        assert cancel(code) in section
    for code in (cancelled, expired):
        assert cancel(code) not in section
    for code in (cancelled, expired, failed.access_code, form.access_code):
        assert reissue(code) in section
    assert reissue(redeemed.access_code) not in section
    for issued in (redeemed, failed, queued, form):
        assert not shows_code(page, issued.code)


def test_patient_page_lists_codes_in_the_same_number_of_queries_for_1_or_30(
    client, practitioner, office, intake, verified_login
):
    one, many = PatientFactory(office=office), PatientFactory(office=office)
    issued_code(one, practitioner)
    for n in range(30):
        channel = ["phone", "print", "email", "sms"][n % 4]
        address = {"email": "p@example.net", "sms": "+14165550134"}.get(channel, "")
        kind = "smart_form" if n % 3 == 0 else "medical_records"
        issued = issued_code(many, practitioner, channel=channel, address=address, kind=kind)
        if n % 5 == 0:
            services.access_code_cancel(access_code=issued.access_code, actor=practitioner)
    verified_login(practitioner)
    patient_page(client, one)
    with CaptureQueriesContext(connection) as few:
        patient_page(client, one)
    with CaptureQueriesContext(connection) as lots:
        html = patient_page(client, many)
    assert len(lots) == len(few)
    assert html.count('class="access-code is-') == 30


# --- cancel ------------------------------------------------------------------------------


def test_cancelling_an_active_code_stops_it_at_once(client, practitioner, olivia, verified_login):
    issued = issued_code(olivia, practitioner)
    url = reverse("accesscodes:cancel", args=[issued.access_code.pk])
    verified_login(practitioner)

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "stop working at once" in confirm.content.decode()
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/patients/{olivia.pk}/#access-codes")

    access_code = AccessCode.objects.get()
    assert (access_code.status, access_code.cancelled_by, access_code.cancel_reason) == (
        "cancelled",
        practitioner,
        "cancelled",
    )
    page = patient_page(client, olivia)
    assert "it can no longer be used" in page
    with pytest.raises(services.RedeemError):
        services.access_code_redeem(typed=issued.code, date_of_birth=DOB, user=None)
    # Again: nothing left to cancel, and the page says so.
    assert client.get(url).status_code == 302
    client.post(url)
    assert "nothing to cancel" in patient_page(client, olivia)


def test_cancelling_a_redeemed_code_takes_back_the_portal_access_it_gave(
    client, practitioner, patient, olivia, verified_login
):
    issued = issued_code(olivia, practitioner)
    grant = services.access_code_redeem(typed=issued.code, date_of_birth=DOB, user=patient).grant
    url = reverse("accesscodes:cancel", args=[issued.access_code.pk])
    verified_login(practitioner)

    confirm = client.get(url).content.decode()
    assert "patient@example.net" in confirm
    assert "Cancelling takes that portal access back at once" in confirm
    client.post(url)

    grant.refresh_from_db()
    assert (grant.revoked_by, grant.revoke_reason) == (practitioner, "clinic")
    assert not PortalAccess.objects.active().exists()
    assert "the portal access it gave was taken back" in patient_page(client, olivia)
    assert AccessCode.objects.get().status == "redeemed"  # what happened stays on record


def test_staff_cancel_a_smart_form_code(client, staff, practitioner, olivia, verified_login):
    issued = issued_code(olivia, practitioner, kind="smart_form")
    verified_login(staff)
    response = client.post(reverse("accesscodes:cancel", args=[issued.access_code.pk]))
    assert response.status_code == 302
    assert AccessCode.objects.get().status == "cancelled"


# --- reissue -----------------------------------------------------------------------------


def test_reissue_is_prefilled_with_the_old_delivery_and_replaces_the_code_in_one_step(
    client, practitioner, olivia, verified_login, drawn, django_capture_on_commit_callbacks
):
    old = issued_code(olivia, practitioner, channel="email", address="old@example.net")
    url = reverse("accesscodes:reissue", args=[old.access_code.pk])
    verified_login(practitioner)

    form = client.get(url).content.decode()
    assert re.search(r'<input type="radio" name="channel" value="email"[^>]*checked', form)
    assert 'value="old@example.net"' in form
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"channel": "phone", "issue_key": key()})

    assert response.status_code == 200
    _old_code, new_code = drawn[0]
    html = response.content.decode()
    assert shows_code(html, new_code) and "earlier code no longer works" in html
    old_row, new_row = AccessCode.objects.order_by("pk")
    assert (old_row.status, old_row.cancel_reason, old_row.cancelled_by) == (
        "cancelled",
        "reissued",
        practitioner,
    )
    assert (new_row.replaces, new_row.channel, new_row.status) == (old_row, "phone", "active")
    page = patient_page(client, olivia)
    assert re.search(r"Replaced</span>\s*by a new code", page)
    assert url not in page  # a replaced code is not reissued again
    assert client.get(url).status_code == 302
    assert "already replaced" in patient_page(client, olivia)
    again = client.post(url, {"channel": "phone", "issue_key": key()})
    assert again.status_code == 400
    assert AccessCode.objects.count() == 2


def test_reissue_posted_twice_issues_once(client, practitioner, olivia, verified_login):
    old = issued_code(olivia, practitioner).access_code
    url = reverse("accesscodes:reissue", args=[old.pk])
    verified_login(practitioner)
    data = {"channel": "print", "issue_key": key()}
    assert client.post(url, data).status_code == 200
    assert client.post(url, data).status_code == 409
    assert AccessCode.objects.count() == 2


def test_an_expired_code_is_reissued_and_staff_reissue_smart_form_codes(
    client, staff, practitioner, olivia, verified_login, drawn
):
    issued = issued_code(olivia, practitioner, kind="smart_form", channel="print")
    AccessCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    verified_login(staff)
    url = reverse("accesscodes:reissue", args=[issued.access_code.pk])
    assert "It no longer works" in client.get(url).content.decode()
    response = client.post(url, {"channel": "print", "issue_key": key()})
    assert response.status_code == 200
    new = AccessCode.objects.get(replaces=issued.access_code)
    assert new.form_request == issued.access_code.form_request
    assert new.issued_by == staff


def test_a_submitted_smart_form_is_not_reissued(
    client, practitioner, olivia, intake, verified_login
):
    issued = issued_code(olivia, practitioner, kind="smart_form")
    form_request = issued.access_code.form_request
    FormRequest.objects.filter(pk=form_request.pk).update(
        status="submitted", submitted_at=timezone.now()
    )
    services.access_code_form_submitted(form_request=form_request)
    url = reverse("accesscodes:reissue", args=[issued.access_code.pk])
    verified_login(practitioner)

    assert client.get(url).status_code == 302
    assert "already been submitted" in patient_page(client, olivia)
    response = client.post(url, {"channel": "phone", "issue_key": key()})
    assert response.status_code == 400
    assert "already been submitted" in response.content.decode()
    assert AccessCode.objects.count() == 1


def test_reissuing_a_medical_records_code_needs_the_date_of_birth(
    client, practitioner, olivia, verified_login
):
    old = issued_code(olivia, practitioner).access_code
    olivia.date_of_birth = None
    olivia.save()
    verified_login(practitioner)
    url = reverse("accesscodes:reissue", args=[old.pk])
    assert "A date of birth is needed" in client.get(url).content.decode()
    assert client.post(url, {"channel": "phone", "issue_key": key()}).status_code == 400
    assert AccessCode.objects.count() == 1
    assert AccessCode.objects.get().status == "active"
