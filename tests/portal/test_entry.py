"""The portal's ways in: Register Here with a code, +Access Code, and access links."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import access_code_issue
from outsmart.accounts.models import User
from outsmart.audit.models import AuditEvent
from portal.models import PortalAccess
from records.services.smartforms import form_request_create, smart_forms_install_defaults
from tests.factories import PatientFactory, UserFactory

DOB = date(1986, 4, 12)


@pytest.fixture
def chart(office):
    return PatientFactory(
        office=office,
        first_name="Olivia",
        last_name="Brown",
        date_of_birth=DOB,
        email="olivia@example.net",
    )


@pytest.fixture
def issue(practitioner, office, chart):
    def issue(kind="medical_records", channel="phone", patient=None, **kwargs):
        patient = patient or chart
        if kind == "smart_form" and "form_request" not in kwargs:
            form = smart_forms_install_defaults(office=patient.office)
            kwargs["form_request"] = form_request_create(
                office=patient.office, patient=patient, form=form, actor=practitioner, request=None
            )
        return access_code_issue(
            office=patient.office,
            patient=patient,
            kind=kind,
            actor=practitioner,
            channel=channel,
            **kwargs,
        )

    return issue


def register_data(words, **overrides):
    data = {
        "first_name": "Olivia",
        "last_name": "Brown",
        "date_of_birth": DOB.isoformat(),
        "email": "olivia@example.net",
        "password": "plum-harbor-violin-42",
    }
    data.update({f"code_{i}": w for i, w in enumerate(words, start=1)})
    data.update(overrides)
    return data


# --- Register Here ----------------------------------------------------------------------------
def test_portal_login_page_has_register_here_at_the_bottom(client):
    response = client.get(reverse("portal:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Register Here" in html
    assert html.index("Log in") < html.index("Register Here")
    assert "no-store" in response["Cache-Control"]


def test_register_form_asks_every_field_and_the_code_in_four_fields(client):
    response = client.get(reverse("portal:register"))
    html = response.content.decode()
    for name in ("first_name", "last_name", "date_of_birth", "email", "password"):
        assert f'name="{name}"' in html
    assert len(re.findall(r'name="code_\d"', html)) == 4
    assert 'list="access-code-words"' in html
    assert html.count("<option value=") == 1296
    assert ">Submit<" in html


def test_registering_with_a_code_creates_the_account_and_the_grant_and_logs_in(
    client, issue, chart, django_capture_on_commit_callbacks
):
    issued = issue()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:register"), register_data(issued.words))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    user = User.objects.get(email="olivia@example.net")
    assert user.first_name == "Olivia"
    assert user.check_password("plum-harbor-violin-42")
    grant = PortalAccess.objects.get(user=user)
    assert grant.patient == chart
    assert grant.kind == "medical_records"
    assert grant.granted_via == "registration"
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "redeemed"
    assert issued.access_code.redeemed_by == user
    assert int(client.session["_auth_user_id"]) == user.pk
    address = EmailAddress.objects.get(user=user)
    assert address.email == "olivia@example.net" and not address.verified
    subjects = [m.subject for m in mail.outbox]
    assert any("onfirm" in s for s in subjects), subjects  # the verification email
    assert any("connected" in s for s in subjects), subjects
    assert AuditEvent.objects.filter(action="portal.registered", actor=user).count() == 1


def test_a_pasted_code_in_the_first_field_and_typos_are_read(client, issue):
    issued = issue()
    typed = issued.words[0].upper() + "-" + " ".join(issued.words[1:])
    words = [typed, "", "", ""]
    response = client.post(reverse("portal:register"), register_data(words))
    assert response.status_code == 302
    assert PortalAccess.objects.count() == 1


def test_a_wrong_code_creates_nothing_and_keeps_every_field_but_the_password(client, issue):
    issue()
    response = client.post(
        reverse("portal:register"), register_data(["apple", "banana", "cherry", "dolphin"])
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "We could not use this access code" in html
    assert 'value="olivia@example.net"' in html
    assert 'value="Olivia"' in html
    assert "plum-harbor-violin-42" not in html
    assert not User.objects.filter(email="olivia@example.net").exists()
    assert not PortalAccess.objects.exists()


def test_a_code_with_the_wrong_date_of_birth_creates_nothing_and_keeps_the_code(client, issue):
    issued = issue()
    response = client.post(
        reverse("portal:register"),
        register_data(issued.words, date_of_birth="1990-01-01"),
    )
    assert response.status_code == 400
    assert "date of birth does not match" in response.content.decode()
    assert not User.objects.filter(email="olivia@example.net").exists()
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"
    assert issued.access_code.dob_failures == 1


def test_an_expired_records_code_gets_the_articles_advice(client, issue):
    with time_machine.travel(timezone.now() - timedelta(days=5, seconds=5)):
        issued = issue()
    response = client.post(reverse("portal:register"), register_data(issued.words))
    assert response.status_code == 400
    assert "only valid for 5 days" in response.content.decode()
    assert not User.objects.filter(email="olivia@example.net").exists()


def test_an_email_that_has_an_account_is_told_to_log_in_and_use_access_code(client, issue):
    issued = issue()
    UserFactory(email="Olivia@Example.net")
    response = client.post(reverse("portal:register"), register_data(issued.words))
    assert response.status_code == 400
    assert "+Access Code" in response.content.decode()
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"


def test_missing_fields_are_each_named(client, db):
    response = client.post(reverse("portal:register"), {})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter the four words of your access code." in html
    assert "Enter the date of birth." in html
    assert html.count("This field is required.") >= 4


@pytest.mark.parametrize(
    "words",
    [
        ["only", "three", "words", ""],
        ["💥", "🙂", "x", "y"],
        ["1234", "5678", "9012", "3456"],
        ["x" * 200, "", "", ""],
        ["'; DROP TABLE users; --", "", "", ""],
        ["<script>alert(1)</script>", "", "", ""],
    ],
)
def test_bad_codes_get_a_clear_message_and_no_account(client, db, words):
    response = client.post(reverse("portal:register"), register_data(words))
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not User.objects.filter(email="olivia@example.net").exists()


def test_a_smart_form_code_registers_and_opens_the_form(client, issue):
    issued = issue(kind="smart_form")
    response = client.post(reverse("portal:register"), register_data(issued.words))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "portal:form", kwargs={"form_request_id": issued.access_code.form_request_id}
    )
    grant = PortalAccess.objects.get()
    assert grant.kind == "smart_form"
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"  # used up only when the form is submitted


# --- +Access Code -----------------------------------------------------------------------------
@pytest.fixture
def patient_client(client, patient):
    client.force_login(patient)
    return client


def test_access_code_page_needs_login(client):
    response = client.get(reverse("portal:access_code"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_plus_access_code_asks_the_date_of_birth_for_a_records_code_then_connects(
    patient_client, patient, issue, chart
):
    issued = issue()
    url = reverse("portal:access_code")
    data = {f"code_{i}": w for i, w in enumerate(issued.words, start=1)}
    response = patient_client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Medical Records Access Code" in html
    assert 'name="date_of_birth"' in html
    assert not PortalAccess.objects.exists()

    response = patient_client.post(url, {**data, "date_of_birth": DOB.isoformat()})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    assert PortalAccess.objects.get(user=patient).patient == chart


def test_plus_access_code_with_a_wrong_date_of_birth_says_so_and_keeps_the_code(
    patient_client, issue
):
    issued = issue()
    data = {f"code_{i}": w for i, w in enumerate(issued.words, start=1)}
    response = patient_client.post(
        reverse("portal:access_code"), {**data, "date_of_birth": "2001-02-03"}
    )
    assert response.status_code == 400
    assert "date of birth does not match" in response.content.decode()
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"


def test_plus_access_code_adds_a_smart_form_without_date_of_birth(patient_client, patient, issue):
    issued = issue(kind="smart_form")
    data = {f"code_{i}": w for i, w in enumerate(issued.words, start=1)}
    response = patient_client.post(reverse("portal:access_code"), data)
    assert response.status_code == 302
    grant = PortalAccess.objects.get(user=patient)
    assert grant.kind == "smart_form"
    assert grant.form_request_id == issued.access_code.form_request_id


def test_failed_codes_are_throttled_with_a_429_page(patient_client):
    url = reverse("portal:access_code")
    data = {"code_1": "apple", "code_2": "banana", "code_3": "cherry", "code_4": "dolphin"}
    for _ in range(5):
        assert patient_client.post(url, data).status_code == 400
    response = patient_client.post(url, data)
    assert response.status_code == 429
    assert "try again in" in response.content.decode().lower()
    assert AuditEvent.objects.filter(action="access_code.throttled").exists()


# --- access links -----------------------------------------------------------------------------
def link_path(issued) -> str:
    return issued.link.split("testserver", 1)[-1] if "testserver" in issued.link else issued.link


def test_a_records_link_landing_changes_nothing_and_says_what_it_unlocks(client, issue, office):
    issued = issue(channel="email", address="olivia@example.net")
    opened = client.get(link_path(issued))
    # The token's address sends no Referer anywhere and leads to a page without the token,
    # whose own forms then post with a same-origin Origin (CSRF).
    assert opened.status_code == 302
    assert opened["Location"] == reverse("portal:link_continue")
    assert opened["Referrer-Policy"] == "no-referrer"
    assert "no-store" in opened["Cache-Control"]
    response = client.get(opened["Location"])
    assert response.status_code == 200
    html = response.content.decode()
    assert office.name in html
    assert "Create an account" in html and "Log in" in html
    assert "Valid until" in html
    assert "no-store" in response["Cache-Control"]
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "active"
    assert not PortalAccess.objects.exists()


def test_create_an_account_from_a_records_link_applies_its_code(client, issue, chart):
    issued = issue(channel="email", address="olivia@example.net")
    client.get(link_path(issued))
    page = client.get(reverse("portal:register")).content.decode()
    assert "Applied from your access link" in page
    assert 'name="code_1"' not in page
    data = register_data([])
    response = client.post(reverse("portal:register"), data)
    assert response.status_code == 302
    grant = PortalAccess.objects.get()
    assert grant.patient == chart and grant.granted_via == "registration"


def test_log_in_from_a_records_link_then_the_date_of_birth_grants_access(
    client, issue, patient, chart
):
    issued = issue(channel="email", address="olivia@example.net")
    landing = client.get(link_path(issued), follow=True).content.decode()
    login_url = re.search(r'href="(/portal/\?next=[^"]+)"', landing).group(1)
    # Anonymous, the date of birth cannot be sent: log in first.
    anonymous = client.post(reverse("portal:link_continue"), {"date_of_birth": DOB.isoformat()})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/portal/?next=")
    client.force_login(patient)
    assert client.get(reverse("portal:link_continue")).status_code == 200
    response = client.post(reverse("portal:link_continue"), {"date_of_birth": "1999-09-09"})
    assert response.status_code == 400
    response = client.post(reverse("portal:link_continue"), {"date_of_birth": DOB.isoformat()})
    assert response.status_code == 302
    grant = PortalAccess.objects.get(user=patient)
    assert grant.patient == chart and grant.granted_via == "link"
    assert "link" in login_url


def test_a_smart_form_link_opens_its_form_for_this_session_only(client, issue):
    issued = issue(kind="smart_form", channel="email", address="olivia@example.net")
    response = client.get(link_path(issued))
    assert response.status_code == 302
    form_url = reverse(
        "portal:form", kwargs={"form_request_id": issued.access_code.form_request_id}
    )
    assert response["Location"] == form_url
    assert issued.access_code.pk in client.session["portal_form_codes"]
    assert not PortalAccess.objects.exists()
    # The session reaches nothing else.
    assert client.get(reverse("portal:dashboard")).status_code == 302


@pytest.mark.parametrize(
    ("state", "status", "text"),
    [
        ("cancelled", 410, "cancelled by the clinic"),
        ("expired", 410, "only valid for 5 days"),
        ("redeemed", 410, "already been used"),
    ],
)
def test_links_that_cannot_be_used_each_say_why(client, issue, state, status, text):
    issued = issue(channel="email", address="olivia@example.net")
    AccessCode.objects.filter(pk=issued.access_code.pk).update(
        status=state,
        cancel_reason="cancelled" if state == "cancelled" else "",
    )
    response = client.get(link_path(issued))
    assert response.status_code == status
    assert text in response.content.decode()


@pytest.mark.parametrize("token", ["x", "a" * 24, "%00" * 8, "é" * 24, "A" * 500])
def test_unknown_and_malformed_links_get_the_we_dont_recognise_page(client, db, token):
    response = client.get(f"/a/{token}/")
    assert response.status_code == 404


def test_unknown_links_are_throttled_per_ip(client, db):
    for _ in range(10):
        client.get("/a/" + "b" * 24 + "/")
    response = client.get("/a/" + "c" * 24 + "/")
    assert response.status_code == 429


def test_nothing_secret_is_kept_in_the_session(client, issue):
    issued = issue(channel="email", address="olivia@example.net")
    client.get(link_path(issued))
    from django.contrib.sessions.models import Session

    stored = " ".join(str(s.get_decoded()) for s in Session.objects.all())
    token = issued.link.rstrip("/").rsplit("/", 1)[-1]
    assert token not in stored
    assert issued.code not in stored


def test_a_patient_who_logs_in_anywhere_starts_on_the_dashboard(client, patient, issue):
    issued = issue()
    from accesscodes.services import access_code_redeem

    access_code_redeem(code_id=issued.access_code.pk, date_of_birth=DOB, user=patient)
    client.force_login(patient)
    response = client.get("/")
    assert response["Location"] == reverse("portal:dashboard")


def test_a_patient_can_turn_on_two_factor_from_the_account_page_and_get_back(
    patient_client,
):
    html = patient_client.get(reverse("accounts:overview")).content.decode()
    assert reverse("accounts:two_factor_setup") in html
    assert f'href="{reverse("portal:dashboard")}"' in html
