"""My access: every grant of the account with clinic, patient, kind, when and how; "Remove
access" and "This wasn't me" (the grant is revoked and the clinic's admins are told)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accesscodes.services import access_code_cancel
from offices.models import Membership
from outsmart.audit.models import AuditEvent
from portal.models import PortalAccess
from portal.services import portal_access_not_me, portal_access_remove
from records.models import Patient
from tests.factories import MembershipFactory, UserFactory
from tests.portal.conftest import (
    add_document,
    grant_form,
    grant_records,
    practitioner_of,
    send_form,
)

pytestmark = pytest.mark.django_db


def test_my_access_needs_a_login(client):
    response = client.get(reverse("portal:my_access"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_my_access_lists_every_grant_with_clinic_patient_kind_and_how(
    logged_in, patient, olivia, harbour, dr_chen
):
    grant_records(patient, olivia, via="registration")
    leo = Patient.objects.create(
        office=harbour, first_name="Leo", last_name="Brown", date_of_birth=date(2019, 8, 1)
    )
    ended = grant_records(patient, leo, via="link")
    portal_access_remove(grant=ended, user=patient)
    form_request = send_form(olivia)
    grant_form(patient, form_request)
    someone_else = grant_records(
        UserFactory(),
        Patient.objects.create(
            office=harbour, first_name="Ann", last_name="Other", date_of_birth=date(1990, 1, 1)
        ),
    )

    response = logged_in.get(reverse("portal:my_access"))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.content.decode()
    active, ended_part = body.split('id="revoked-h"')
    assert "Olivia Brown · Riverside Clinic" in active
    assert "Medical records" in active and "at registration, with an access code" in active
    assert "Smart Form “New patient intake”" in active and "with an access code" in active
    assert active.count(">Remove access<") == 2 and active.count(">This wasn't me<") == 2
    assert "Leo Brown · Harbour Clinic" in ended_part
    assert "with an access link" in ended_part and "you removed it" in ended_part
    assert "PST" in ended_part  # Harbour's time zone
    assert "Remove access<" not in ended_part
    assert reverse("portal:access_not_me", args=[ended.pk]) in ended_part
    assert "Ann Other" not in body
    assert reverse("portal:access_remove", args=[someone_else.pk]) not in body


# --- Remove access ------------------------------------------------------------------------------
def test_remove_access_asks_first_then_revokes_and_audits(logged_in, patient, olivia, olivia_grant):
    document = add_document(olivia)
    url = reverse("portal:access_remove", args=[olivia_grant.pk])

    confirm = logged_in.get(url)
    assert confirm.status_code == 200
    assert b"Remove access?" in confirm.content and b"Olivia Brown" in confirm.content
    olivia_grant.refresh_from_db()
    assert olivia_grant.revoked_at is None  # the GET changed nothing

    response = logged_in.post(url, follow=True)

    assert response.redirect_chain[-1][0] == reverse("portal:my_access")
    assert "was removed" in response.content.decode()
    olivia_grant.refresh_from_db()
    assert olivia_grant.revoked_at is not None and olivia_grant.revoked_by == patient
    assert olivia_grant.revoke_reason == "removed"
    event = AuditEvent.objects.get(action="portal.access_removed")
    assert event.actor == patient and event.patient == olivia
    assert event.detail["kind"] == "medical_records"
    # Access stops at the very next request.
    assert logged_in.get(reverse("portal:document", args=[document.pk])).status_code == 404
    assert b"Nothing is connected yet" in logged_in.get(reverse("portal:dashboard")).content


def test_removing_an_already_removed_grant_changes_nothing(logged_in, patient, olivia_grant):
    assert portal_access_remove(grant=olivia_grant, user=patient) is True
    olivia_grant.refresh_from_db()
    first = olivia_grant.revoked_at
    assert portal_access_remove(grant=olivia_grant, user=patient) is False

    response = logged_in.post(reverse("portal:access_remove", args=[olivia_grant.pk]))

    assert response.status_code == 302
    olivia_grant.refresh_from_db()
    assert olivia_grant.revoked_at == first
    assert AuditEvent.objects.filter(action="portal.access_removed").count() == 1


def test_another_accounts_grant_answers_404(logged_in, olivia, dr_patel):
    theirs = grant_records(UserFactory(), olivia)
    for name in ("portal:access_remove", "portal:access_not_me"):
        url = reverse(name, args=[theirs.pk])
        assert logged_in.get(url).status_code == 404
        assert logged_in.post(url).status_code == 404
    assert logged_in.post(reverse("portal:access_remove", args=[999999])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_the_services_refuse_another_accounts_grant(patient, olivia, dr_patel):
    theirs = grant_records(UserFactory(), olivia)
    with pytest.raises(Http404):
        portal_access_remove(grant=theirs, user=patient)
    with pytest.raises(Http404):
        portal_access_not_me(grant=theirs, user=patient)
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- This wasn't me -------------------------------------------------------------------------------
@pytest.fixture
def riverside_admins(riverside, dr_patel):
    """dr_patel is an admin; add a second admin, a removed admin and a non-admin."""
    second = MembershipFactory(
        office=riverside, role="staff", is_admin=True, user__email="manager@riverside.example"
    )
    gone = MembershipFactory(
        office=riverside, role="practitioner", is_admin=True, user__email="gone@riverside.example"
    )
    gone.removed_at = timezone.now()
    gone.save()
    MembershipFactory(office=riverside, role="staff", user__email="desk@riverside.example")
    return [dr_patel, second.user]


def test_this_wasnt_me_explains_first_then_revokes_and_tells_the_clinic_admins(
    logged_in,
    patient,
    olivia,
    olivia_grant,
    riverside_admins,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    url = reverse("portal:access_not_me", args=[olivia_grant.pk])
    confirm = logged_in.get(url).content.decode()
    assert "the access is removed at once" in confirm
    assert "Riverside Clinic is told by email" in confirm
    assert "Remove access and tell the clinic" in confirm

    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(url, follow=True)

    assert "Riverside Clinic was told" in response.content.decode()
    olivia_grant.refresh_from_db()
    assert olivia_grant.revoked_at is not None and olivia_grant.revoke_reason == "not_me"
    event = AuditEvent.objects.get(action="portal.access_not_me")
    assert event.actor == patient and event.patient == olivia
    assert event.detail["was_active"] is True
    assert sorted(m.to[0] for m in mailoutbox) == [
        "dr.patel@riverside.example",
        "manager@riverside.example",
    ]
    message = mailoutbox[0]
    assert message.subject == (
        'Riverside Clinic: a patient portal access was reported as "This wasn\'t me"'
    )
    granted = olivia_grant.granted_at.astimezone(ZoneInfo("America/Toronto"))
    when = f"{granted:%B} {granted.day}, {granted.year} at {granted:%-I:%M %p %Z}"
    for part in (
        "The patient portal account patient@example.net reported",
        "Patient: Olivia Brown",
        "Access: Medical records",
        f"Granted: {when}, by access code",
        "Code issued:",
        "by Maya Patel",
        f"/patients/{olivia.pk}/",
    ):
        assert part in message.body, part
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "Olivia Brown" in html and "patient@example.net" in html
    assert "Open the patient’s page" in html
    # Access stops at the next request.
    assert b"Nothing is connected yet" in logged_in.get(reverse("portal:dashboard")).content


def test_this_wasnt_me_after_removing_it_still_tells_the_clinic(
    logged_in,
    patient,
    olivia_grant,
    riverside_admins,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    portal_access_remove(grant=olivia_grant, user=patient)
    olivia_grant.refresh_from_db()
    removed_at = olivia_grant.revoked_at

    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(reverse("portal:access_not_me", args=[olivia_grant.pk]))

    olivia_grant.refresh_from_db()
    assert olivia_grant.revoke_reason == "not_me" and olivia_grant.revoked_at == removed_at
    assert len(mailoutbox) == 2
    assert AuditEvent.objects.get(action="portal.access_not_me").detail["was_active"] is False


def test_this_wasnt_me_is_not_repeated_nor_offered_for_a_clinic_cancelled_grant(
    logged_in,
    patient,
    olivia_grant,
    riverside_admins,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    url = reverse("portal:access_not_me", args=[olivia_grant.pk])
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post(url)
        response = logged_in.post(url, follow=True)
    assert "You already told Riverside Clinic" in response.content.decode()
    assert len(mailoutbox) == 2  # once per admin, not twice

    cancelled = grant_records(patient, olivia_grant.patient)
    access_code_cancel(
        access_code=cancelled.access_code, actor=practitioner_of(cancelled.patient.office)
    )
    cancelled.refresh_from_db()
    assert portal_access_not_me(grant=cancelled, user=patient) is False
    response = logged_in.get(reverse("portal:access_not_me", args=[cancelled.pk]), follow=True)
    assert "already cancelled this access" in response.content.decode()
    assert AuditEvent.objects.filter(action="portal.access_not_me").count() == 1


def test_this_wasnt_me_for_a_smart_form_names_the_form(
    patient, olivia, dr_patel, mailoutbox, django_capture_on_commit_callbacks
):
    grant = grant_form(patient, send_form(olivia))
    with django_capture_on_commit_callbacks(execute=True):
        assert portal_access_not_me(grant=grant, user=patient) is True
    [message] = mailoutbox
    assert 'Access: Smart Form (Smart Form "New patient intake")' in message.body
    assert PortalAccess.objects.get(pk=grant.pk).revoke_reason == "not_me"
    assert Membership.objects.filter(office=olivia.office, is_admin=True).count() == 1
