"""Security headers and cookies on the pages an attacker would aim at: the login page, a clinic
page, a portal page with patient data, and the pages reached through a secret link.

Production settings are what is tested: DEBUG is off in the suite (HSTS, Secure cookies).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accesscodes.services import access_code_redeem
from tests.factories import PatientFactory, issue_code

pytestmark = pytest.mark.django_db

HTTPS = {"secure": True}  # as behind the TLS proxy; HSTS is only sent over HTTPS


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_hardened(response, *, patient_data: bool) -> None:
    csp = csp_directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    # No inline script or style without a nonce: 'unsafe-inline' / 'unsafe-eval' never appear.
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in csp[directive]
        assert "'unsafe-eval'" not in csp[directive]
        assert all(v == "'self'" or v.startswith("'nonce-") for v in csp[directive])
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions
    assert response["Referrer-Policy"] in {"same-origin", "no-referrer"}
    if patient_data:
        assert "no-store" in response["Cache-Control"]


def test_login_page_headers_and_cookies(client):
    response = client.get(reverse("account_login"), **HTTPS)
    assert response.status_code == 200
    assert_hardened(response, patient_data=False)
    assert "no-store" in response["Cache-Control"]  # it carries a CSRF token
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"


def test_session_cookie_is_secure_httponly_and_lax(client, patient, password):
    response = client.post(
        reverse("portal:login"), {"login": patient.email, "password": password}, **HTTPS
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"


def test_clinic_page_with_patient_data(client, practitioner, office, verified_login):
    chart = PatientFactory(office=office, first_name="Zoe", last_name="Anderson")
    verified_login(practitioner)
    response = client.get(reverse("records:patient", args=[chart.pk]), **HTTPS)
    assert response.status_code == 200 and "Anderson" in response.content.decode()
    assert_hardened(response, patient_data=True)
    assert response["Referrer-Policy"] == "same-origin"


def test_portal_page_with_patient_data(client, practitioner, office, patient):
    chart = PatientFactory(office=office, first_name="Olivia", last_name="Brown")
    issued = issue_code(patient=chart, actor=practitioner)
    access_code_redeem(
        typed=issued.code.split(),
        date_of_birth=chart.date_of_birth,
        user=patient,
        ip="203.0.113.9",
        identifier=f"user:{patient.pk}",
        request=None,
    )
    client.force_login(patient)
    response = client.get(reverse("portal:dashboard"), **HTTPS)
    assert response.status_code == 200 and "Olivia Brown" in response.content.decode()
    assert_hardened(response, patient_data=True)


def test_access_link_sends_no_referrer_and_lands_on_an_address_without_the_token(
    client, practitioner, office
):
    chart = PatientFactory(office=office)
    issued = issue_code(
        patient=chart, actor=practitioner, channel="email", address="olivia@example.net"
    )
    token_path = re.sub(r"^https?://[^/]+", "", issued.link)
    response = client.get(token_path, **HTTPS)
    assert response.status_code == 302
    assert response["Referrer-Policy"] == "no-referrer"
    assert_hardened(response, patient_data=True)
    landing = client.get(response["Location"], **HTTPS)
    assert landing.status_code == 200
    assert_hardened(landing, patient_data=True)
    assert token_path.strip("/").split("/")[-1] not in landing.content.decode()


def test_a_bad_token_page_also_sends_no_referrer(client, db):
    for path in ("/a/" + "x" * 24 + "/", "/invitations/" + "y" * 43 + "/"):
        response = client.get(path, **HTTPS)
        assert response.status_code == 404
        assert response["Referrer-Policy"] == "no-referrer"
        assert_hardened(response, patient_data=True)


def test_invitation_link_sends_no_referrer_and_lands_on_an_address_without_the_token(
    client, admin, office, django_capture_on_commit_callbacks
):
    from invitations import services

    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            office=office, email="new.person@example.com", role="staff", invited_by=admin
        )
    response = client.get(f"/invitations/{invitation.token}/", **HTTPS)
    assert response.status_code == 302
    assert response["Referrer-Policy"] == "no-referrer"
    landing = client.get(response["Location"], **HTTPS)
    assert landing.status_code == 200
    assert_hardened(landing, patient_data=True)
    assert invitation.token not in landing.content.decode()


def test_password_reset_key_page_sends_no_referrer(client, patient):
    response = client.get("/accounts/password/reset/key/1-abcdef/", **HTTPS)
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


def test_a_nonce_is_only_in_the_policy_when_a_page_uses_one(client):
    """No template has an inline script today; if one is added it must carry the nonce that
    the policy names, otherwise the browser refuses it (the browser tests would show it)."""
    response = client.get(reverse("account_login"), **HTTPS)
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
    assert not re.search(r"<style\b", body)
    assert not re.search(r"\sstyle=\"", body)
