"""The Dashboard (every record the account's grants show, named by patient and clinic, in a
fixed number of queries) and document downloads (only under an active records grant)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accesscodes.services import access_code_cancel
from outsmart.audit.models import AuditEvent
from portal.selectors import dashboard_for
from records.models import Appointment, Patient, TreatmentPlan
from records.services.smartforms import form_request_submit
from tests.factories import UserFactory
from tests.portal.conftest import (
    PDF,
    add_document,
    grant_form,
    grant_records,
    practitioner_of,
    send_form,
)

pytestmark = pytest.mark.django_db

TORONTO = ZoneInfo("America/Toronto")
# Far from today, so "upcoming" and "past" hold whatever the date (codes are checked against the
# database's clock, which tests cannot move): one date in daylight saving time, one not.
FUTURE = datetime(2099, 3, 20, 14, 30, tzinfo=TORONTO)  # EDT
PAST = datetime(2020, 3, 2, 9, 0, tzinfo=TORONTO)  # EST


def book(patient, starts_at, *, reason="", cancelled=False):
    practitioner = practitioner_of(patient.office)
    return Appointment.objects.create(
        office=patient.office,
        patient=patient,
        practitioner=practitioner,
        starts_at=starts_at,
        reason=reason,
        status="cancelled" if cancelled else "booked",
        cancelled_at=timezone.now() if cancelled else None,
    )


def plan(patient, title="Knee rehabilitation", body="Stretch twice a day.\nIce after runs."):
    return TreatmentPlan.objects.create(
        office=patient.office,
        patient=patient,
        title=title,
        body=body,
        plan_date=date(2026, 3, 12),
        author=practitioner_of(patient.office),
    )


def fill(patient, n_forms=2, n_items=2):
    """Give a patient's record a bit of everything."""
    for _ in range(n_forms):
        send_form(patient)
    submitted = send_form(patient)
    form_request_submit(
        form_request=submitted,
        data={
            f"q_{q['id']}": {
                "long_text": "x",
                "yes_no": "no",
                "single_choice": q["choices"][0] if q["choices"] else "",
                "multiple_choice": [q["choices"][-1]] if q["choices"] else [],
                "number": "1",
            }.get(q["kind"], "")
            for q in submitted.questions
        },
    )
    for i in range(n_items):
        plan(patient, title=f"Plan {i}")
        add_document(patient, title=f"Result {i}")
        book(patient, FUTURE + timedelta(days=i))
        book(patient, PAST - timedelta(days=i))


# --- the page ---------------------------------------------------------------------------------
def test_dashboard_asks_for_login_first(client):
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login") + "?next=")


def test_an_account_without_access_is_told_about_the_access_code_button(logged_in):
    response = logged_in.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "Nothing is connected yet" in body
    assert "tap the green <strong>+Access Code</strong> button" in body
    assert reverse("portal:access_code") in body


def test_each_record_is_named_by_patient_and_clinic_with_all_its_parts(
    logged_in, patient, olivia, olivia_grant, harbour, dr_chen
):
    # A parent with a child's record at another clinic.
    leo = Patient.objects.create(
        office=harbour, first_name="Leo", last_name="Brown", date_of_birth=date(2019, 8, 1)
    )
    grant_records(patient, leo)
    intake = send_form(olivia)
    done = send_form(olivia)
    form_request_submit(
        form_request=done,
        data={
            f"q_{q['id']}": {"long_text": "x", "yes_no": "no", "number": "1"}.get(
                q["kind"], q["choices"][:1] if q["kind"] == "multiple_choice" else ""
            )
            or (q["choices"][0] if q["choices"] else "")
            for q in done.questions
        },
    )
    plan(olivia)
    document = add_document(olivia)
    book(olivia, FUTURE, reason="Knee")
    book(olivia, PAST)
    book(olivia, FUTURE + timedelta(days=5, hours=-6), cancelled=True)

    body = logged_in.get(reverse("portal:dashboard")).content.decode()

    assert "Olivia Brown" in body and "Riverside Clinic" in body
    assert "Leo Brown" in body and "Harbour Clinic" in body
    dashboard = dashboard_for(patient)
    assert [r.label for r in dashboard.records] == [
        "Leo Brown · Harbour Clinic",
        "Olivia Brown · Riverside Clinic",
    ]
    olivia_part = body[body.index("Olivia Brown</span>") :]
    # Questionnaires: to fill, with a link to the form, and already submitted.
    assert reverse("portal:form", args=[intake.pk]) in olivia_part
    assert "Already submitted" in olivia_part
    # Treatment plan: title, date, author, body.
    assert "Knee rehabilitation" in olivia_part
    assert "Mar 12, 2026</time> · by Maya Patel" in olivia_part
    assert "Stretch twice a day.<br>Ice after runs." in olivia_part
    # Document with its download link.
    assert "Blood test results" in olivia_part
    assert reverse("portal:document", args=[document.pk]) in olivia_part
    # Appointments in the clinic's time zone, with the zone shown; cancelled ones marked.
    assert f"{FUTURE:%a, %b} 20, 2099, 2:30 PM EDT" in olivia_part
    assert f"{PAST:%a, %b} 2, 2020, 9:00 AM EST" in olivia_part
    assert "Mar 25, 2099, 8:30 AM EDT" in olivia_part
    assert 'is-cancelled"' in olivia_part and "Cancelled" in olivia_part
    assert "America/Toronto" in olivia_part
    record = next(r for r in dashboard.records if r.patient == olivia)
    assert [a.starts_at for a in record.upcoming] == [FUTURE, FUTURE + timedelta(days=5, hours=-6)]
    assert [a.starts_at for a in record.past] == [PAST]
    assert record.forms_to_fill == [intake] and record.forms_submitted == [done]


def test_appointment_times_follow_each_clinics_own_time_zone(
    logged_in, patient, olivia, olivia_grant, harbour, dr_chen
):
    hugo = Patient.objects.create(
        office=harbour, first_name="Hugo", last_name="Brown", date_of_birth=date(1950, 1, 9)
    )
    grant_records(patient, hugo)
    book(olivia, FUTURE)
    book(hugo, FUTURE)

    body = logged_in.get(reverse("portal:dashboard")).content.decode()

    assert "Mar 20, 2099, 2:30 PM EDT" in body  # Toronto
    assert "Mar 20, 2099, 11:30 AM PDT" in body  # Vancouver


def test_a_smart_form_grant_shows_only_that_form_never_the_records(
    logged_in, patient, olivia, dr_patel
):
    form_request = send_form(olivia)
    other_form = send_form(olivia)
    plan(olivia, title="Secret plan")
    document = add_document(olivia, title="Secret result")
    grant_form(patient, form_request)

    dashboard = dashboard_for(patient)
    assert dashboard.records == []
    assert [g.form_request for g in dashboard.questionnaires] == [form_request]
    body = logged_in.get(reverse("portal:dashboard")).content.decode()
    assert "Questionnaires" in body and "do not open your medical records" in body
    assert reverse("portal:form", args=[form_request.pk]) in body
    assert reverse("portal:form", args=[other_form.pk]) not in body
    assert "Secret plan" not in body and "Secret result" not in body
    assert logged_in.get(reverse("portal:document", args=[document.pk])).status_code == 404


def test_a_smart_form_of_a_patient_whose_records_are_shown_is_listed_with_the_record(
    patient, olivia, olivia_grant
):
    form_request = send_form(olivia)
    grant_form(patient, form_request)
    dashboard = dashboard_for(patient)
    assert dashboard.questionnaires == []
    assert dashboard.records[0].forms_to_fill == [form_request]


def test_a_revoked_grant_disappears_at_the_next_request(logged_in, olivia, olivia_grant):
    plan(olivia, title="Knee rehabilitation")
    assert b"Knee rehabilitation" in logged_in.get(reverse("portal:dashboard")).content

    access_code_cancel(access_code=olivia_grant.access_code, actor=practitioner_of(olivia.office))

    body = logged_in.get(reverse("portal:dashboard")).content.decode()
    assert "Knee rehabilitation" not in body and "Nothing is connected yet" in body


def test_someone_elses_grants_are_not_shown(logged_in, olivia, dr_patel):
    someone = UserFactory(email="someone@example.org")
    grant_records(someone, olivia)
    assert dashboard_for(someone).records
    body = logged_in.get(reverse("portal:dashboard")).content.decode()
    assert "Olivia Brown" not in body


# --- queries ------------------------------------------------------------------------------------
def records_at(n: int, user, tag: str) -> None:
    from tests.factories import OfficeFactory
    from tests.portal.conftest import clinic_practitioner

    for i in range(n):
        office = OfficeFactory(name=f"Clinic {tag}{i}")
        clinic_practitioner(office, f"dr{i}@clinic-{tag}{i}.example")
        patient = Patient.objects.create(
            office=office, first_name=f"P{i}", last_name="Brown", date_of_birth=date(1990, 1, 1)
        )
        grant_records(user, patient)
        fill(patient)
        grant_form(user, send_form(patient))  # listed with the record
        # A Smart Form of a patient without records access.
        other = Patient.objects.create(office=office, first_name=f"Q{i}", last_name="Grey")
        grant_form(user, send_form(other))


def test_dashboard_queries_do_not_grow_with_patients_clinics_or_items(
    client, django_assert_num_queries
):
    one, three = UserFactory(), UserFactory()
    records_at(1, one, "a")
    records_at(3, three, "b")

    with django_assert_num_queries(6):
        small = dashboard_for(one)
    with django_assert_num_queries(6):
        large = dashboard_for(three)
    assert len(small.records) == 1 and len(large.records) == 3
    assert len(large.questionnaires) == 3
    assert all(len(r.documents) == 2 and len(r.upcoming) == 2 for r in large.records)

    counts = []
    for user in (one, three):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("portal:dashboard"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- documents ----------------------------------------------------------------------------------
def test_a_patient_downloads_their_document_privately_and_it_is_audited(
    logged_in, patient, olivia, olivia_grant
):
    document = add_document(olivia)

    response = logged_in.get(reverse("portal:document", args=[document.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="blood-test.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    event = AuditEvent.objects.get(action="portal.document_downloaded")
    assert event.actor == patient and event.patient == olivia
    assert event.office == olivia.office and event.target_id == str(document.pk)


def test_another_patients_document_answers_404(logged_in, olivia, olivia_grant, riverside):
    stranger = Patient.objects.create(
        office=riverside, first_name="Sam", last_name="Stone", date_of_birth=date(1970, 1, 1)
    )
    document = add_document(stranger)
    assert logged_in.get(reverse("portal:document", args=[document.pk])).status_code == 404
    assert logged_in.get(reverse("portal:document", args=[999999])).status_code == 404
    assert not AuditEvent.objects.filter(action="portal.document_downloaded").exists()


def test_a_document_stops_downloading_once_the_grant_is_removed(logged_in, olivia, olivia_grant):
    from portal.services import portal_access_remove

    document = add_document(olivia)
    url = reverse("portal:document", args=[document.pk])
    assert logged_in.get(url).status_code == 200
    portal_access_remove(grant=olivia_grant, user=olivia_grant.user, request=None)
    assert logged_in.get(url).status_code == 404


def test_a_document_needs_a_login(client, olivia, dr_patel):
    document = add_document(olivia)
    response = client.get(reverse("portal:document", args=[document.pk]))
    assert response.status_code == 302 and "/portal/" in response["Location"]


def test_a_document_whose_file_is_missing_answers_404(logged_in, olivia, olivia_grant):
    document = add_document(olivia)
    document.file.storage.delete(document.file.name)
    assert logged_in.get(reverse("portal:document", args=[document.pk])).status_code == 404
