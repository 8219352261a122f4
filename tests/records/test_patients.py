"""Patients: the list and its search, adding and editing, the patient page, treatment plans."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outsmart.audit.models import AuditEvent
from records.models import Patient, TreatmentPlan
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

VALID = {
    "first_name": "  Anna ",
    "last_name": "Smith",
    "date_of_birth": "1980-03-14",
    "email": "Anna.Smith@Example.NET",
    "mobile_phone": "+1 (416) 555-0134",
}


def test_search_finds_patients_by_name_prefixes_or_date_of_birth(
    client, staff, office, other_office, verified_login
):
    anna = PatientFactory(
        office=office, first_name="Anna", last_name="Smith", date_of_birth=date(1980, 3, 14)
    )
    PatientFactory(
        office=office, first_name="Annabel", last_name="Jones", date_of_birth=date(1990, 1, 2)
    )
    PatientFactory(
        office=office, first_name="Bob", last_name="Smithers", date_of_birth=date(1975, 5, 6)
    )
    PatientFactory(office=other_office, first_name="Anna", last_name="Smith")
    verified_login(staff)

    def names(q):
        body = client.get(reverse("records:patients"), {"q": q}).content.decode()
        return sorted(
            p.full_name
            for p in Patient.objects.all()
            if reverse("records:patient", args=[p.pk]) + '"' in body
        )

    assert names("ann smi") == ["Anna Smith"]
    assert names("SMITH") == ["Anna Smith", "Bob Smithers"]
    assert names("1980-03-14") == ["Anna Smith"]
    assert names("14/03/1980") == ["Anna Smith"]
    assert names("ann") == ["Anna Smith", "Annabel Jones"]
    assert names("") == ["Anna Smith", "Annabel Jones", "Bob Smithers"]
    assert anna.office == office


@pytest.mark.parametrize(
    "q", ["<script>", "%", "_", "'; drop table x; --", "\x00", "é" * 500, "2024-02-30"]
)
def test_odd_searches_answer_calmly(client, staff, verified_login, q):
    verified_login(staff)
    response = client.get(reverse("records:patients"), {"q": q, "page": "x"})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_patient_list_pages_in_a_constant_number_of_queries(client, staff, office, verified_login):
    verified_login(staff)
    PatientFactory.create_batch(20, office=office)
    client.get(reverse("records:patients"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("records:patients"))
    Patient.objects.bulk_create(
        Patient(office=office, first_name=f"P{n}", last_name=f"L{n:04}") for n in range(1980)
    )
    with CaptureQueriesContext(connection) as big:
        response = client.get(reverse("records:patients"), {"page": "40"})
    assert len(big) == len(small)
    assert "Page 40 of 80" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_staff_adds_a_patient_with_normalised_details(client, staff, office, verified_login):
    verified_login(staff)
    response = client.post(reverse("records:patient_create"), VALID)
    patient = Patient.objects.get()
    assert response["Location"] == reverse("records:patient", args=[patient.pk])
    assert (patient.office, patient.first_name, patient.email, patient.mobile_phone) == (
        office,
        "Anna",
        "Anna.Smith@example.net",
        "+14165550134",
    )
    event = AuditEvent.objects.get(action="patient.created")
    assert (event.actor, event.patient) == (staff, patient)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"first_name": ""}, "This field is required"),
        ({"last_name": "\u200b\u2028"}, "Enter the patient"),
        (
            {"date_of_birth": (timezone.localdate() + timedelta(days=1)).isoformat()},
            "cannot be in the future",
        ),
        ({"date_of_birth": "1850-01-01"}, "after 1900"),
        ({"date_of_birth": "2024-02-30"}, "Enter a valid date"),
        ({"email": "not-an-email"}, "valid email"),
        ({"mobile_phone": "call me maybe"}, "Enter a mobile number"),
        ({"mobile_phone": "+1 23"}, "Enter a mobile number"),
        ({"first_name": "x" * 101}, "at most 100"),
        ({"first_name": "a\x00b"}, "Null characters"),
    ],
)
def test_bad_patient_details_get_a_clear_message_and_store_nothing(
    client, staff, verified_login, change, message
):
    verified_login(staff)
    response = client.post(reverse("records:patient_create"), {**VALID, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Patient.objects.exists()


def test_editing_a_patient_audits_which_fields_changed_not_their_values(
    client, staff, office, verified_login
):
    patient = PatientFactory(office=office, first_name="Anna", last_name="Smith")
    verified_login(staff)
    data = {**VALID, "first_name": "Anna", "last_name": "Smith-Jones"}
    client.post(reverse("records:patient_edit", args=[patient.pk]), data)
    patient.refresh_from_db()
    assert patient.last_name == "Smith-Jones"
    event = AuditEvent.objects.get(action="patient.updated")
    assert "last_name" in event.detail["changed"]
    assert "Smith-Jones" not in str(event.detail)


def test_another_offices_patient_is_404_everywhere(client, outsider, office, verified_login):
    patient = PatientFactory(office=office)
    plan = TreatmentPlan.objects.create(
        office=office,
        patient=patient,
        title="T",
        body="B",
        plan_date=date.today(),
        author=outsider,
    )
    verified_login(outsider)
    for url in (
        reverse("records:patient_edit", args=[patient.pk]),
        reverse("records:treatment_plan_create", args=[patient.pk]),
        reverse("records:treatment_plan_edit", args=[plan.pk]),
        reverse("records:treatment_plan_history", args=[plan.pk]),
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, VALID).status_code == 404, url
    patient.refresh_from_db()
    assert patient.first_name != "Anna"


def test_treatment_plans_are_written_by_practitioners_and_edits_keep_the_previous_version(
    client, practitioner, staff, office, verified_login
):
    patient = PatientFactory(office=office)
    verified_login(staff)
    url = reverse("records:treatment_plan_create", args=[patient.pk])
    assert client.get(url).status_code == 403
    verified_login(practitioner)
    data = {
        "title": "Knee rehab",
        "plan_date": "2026-11-20",
        "body": "Week 1:\n  - stretch\n\nWeek 2: <b>walk</b>",
    }
    client.post(url, data)
    plan = TreatmentPlan.objects.get()
    assert plan.body == "Week 1:\n  - stretch\n\nWeek 2: <b>walk</b>"
    client.post(
        reverse("records:treatment_plan_edit", args=[plan.pk]), {**data, "body": "Week 1: rest"}
    )
    plan.refresh_from_db()
    assert plan.body == "Week 1: rest"
    [version] = plan.versions.all()
    assert version.body.startswith("Week 1:\n  - stretch") and version.written_by == practitioner
    history = client.get(reverse("records:treatment_plan_history", args=[plan.pk])).content.decode()
    assert "&lt;b&gt;walk&lt;/b&gt;" in history and "<b>walk</b>" not in history
    assert [
        e for e in AuditEvent.objects.values_list("action", flat=True) if e.startswith("treatment")
    ] == [
        "treatment_plan.updated",
        "treatment_plan.created",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"title": ""}, "This field is required"),
        ({"body": "  \n \x07 "}, "Write the plan"),
        ({"plan_date": "yesterday"}, "Enter a valid date"),
        ({"plan_date": "1066-10-14"}, "between 1900 and 2100"),
        ({"body": "x" * 20001}, "at most 20000"),
    ],
)
def test_bad_treatment_plans_store_nothing(
    client, practitioner, office, verified_login, change, message
):
    patient = PatientFactory(office=office)
    verified_login(practitioner)
    data = {"title": "Plan", "plan_date": "2026-11-20", "body": "Rest.", **change}
    response = client.post(reverse("records:treatment_plan_create", args=[patient.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TreatmentPlan.objects.exists()


def _fill_chart(patient, user, n):
    from datetime import datetime

    from records.models import Appointment
    from records.services.smartforms import form_request_create, smart_forms_install_defaults

    form = smart_forms_install_defaults(office=patient.office)
    for i in range(n):
        Appointment.objects.create(
            office=patient.office,
            patient=patient,
            practitioner=user,
            starts_at=timezone.make_aware(datetime(2026, 1, 1, 9)) + timedelta(days=i),
            duration_minutes=30,
        )
        TreatmentPlan.objects.create(
            office=patient.office,
            patient=patient,
            title=f"Plan {i}",
            body="Rest.",
            plan_date=date(2026, 1, 1),
            author=user,
            edited_by=user,
        )
        form_request_create(
            office=patient.office, patient=patient, form=form, actor=user, request=None
        )


def test_patient_page_shows_the_chart_in_a_constant_number_of_queries_and_is_audited(
    client, practitioner, office, verified_login
):
    small, big = PatientFactory(office=office), PatientFactory(office=office)
    _fill_chart(small, practitioner, 1)
    _fill_chart(big, practitioner, 30)
    verified_login(practitioner)
    client.get(reverse("records:patient", args=[small.pk]))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("records:patient", args=[small.pk]))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("records:patient", args=[big.pk]))
    assert len(many) == len(few)
    body = response.content.decode()
    assert body.count("Plan ") >= 30 and "New patient intake" in body
    assert "no-store" in response["Cache-Control"]
    events = AuditEvent.objects.filter(action="patient.viewed", patient=big)
    assert [(e.actor, e.office) for e in events] == [(practitioner, office)]


def test_staff_sees_the_chart_but_cannot_write_treatment_plans(
    client, staff, office, verified_login
):
    patient = PatientFactory(office=office)
    verified_login(staff)
    body = client.get(reverse("records:patient", args=[patient.pk])).content.decode()
    assert "Book appointment" in body and "Upload document" in body
    assert "New treatment plan" not in body


def test_removed_member_and_patient_cannot_open_a_chart(
    client, removed_member, patient, office, verified_login
):
    chart = PatientFactory(office=office)
    for person in (removed_member, patient):
        verified_login(person)
        assert client.get(reverse("records:patient", args=[chart.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action="patient.viewed").exists()
