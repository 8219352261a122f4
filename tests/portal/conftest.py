"""Portal fixtures: patients at two clinics, and grants made the real way (a practitioner
issues a code with access_code_issue, the patient redeems it with access_code_redeem)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accesscodes.services import access_code_issue, access_code_redeem
from offices.models import Membership
from outsmart.devtools.demo_documents import tiny_pdf
from portal.access import FORM_CODES_KEY
from portal.models import PortalAccess
from records.models import Document, FormRequest, Patient
from records.services.documents import document_upload
from records.services.smartforms import (
    QuestionContent,
    SmartFormContent,
    form_request_create,
    smart_form_create,
    smart_forms_install_defaults,
)
from tests.factories import MembershipFactory, OfficeFactory

PDF = tiny_pdf("Blood test results", ["Haemoglobin 138 g/L"])


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Documents in a fresh private directory per test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }
    return tmp_path / "private"


@pytest.fixture
def riverside(db):
    return OfficeFactory(name="Riverside Clinic", time_zone="America/Toronto", phone="")


@pytest.fixture
def harbour(db):
    return OfficeFactory(name="Harbour Clinic", time_zone="America/Vancouver")


def clinic_practitioner(office, email: str, first="Maya", last="Patel"):
    return MembershipFactory(
        office=office,
        role="practitioner",
        is_admin=True,
        user__email=email,
        user__first_name=first,
        user__last_name=last,
    ).user


@pytest.fixture
def dr_patel(riverside):
    return clinic_practitioner(riverside, "dr.patel@riverside.example")


@pytest.fixture
def dr_chen(harbour):
    return clinic_practitioner(harbour, "dr.chen@harbour.example", "Wei", "Chen")


@pytest.fixture
def olivia(riverside, dr_patel):
    return Patient.objects.create(
        office=riverside,
        first_name="Olivia",
        last_name="Brown",
        date_of_birth=date(1984, 5, 2),
        email="olivia@example.net",
    )


def practitioner_of(office):
    return Membership.objects.filter(office=office, role="practitioner").first().user


def grant_records(user, patient: Patient, *, via: str | None = None) -> PortalAccess:
    """A medical-records grant, as the portal makes it: issued, then redeemed with the
    patient's date of birth."""
    issued = access_code_issue(
        office=patient.office,
        patient=patient,
        kind="medical_records",
        actor=practitioner_of(patient.office),
        channel="print",
    )
    return access_code_redeem(
        typed=issued.code, date_of_birth=patient.date_of_birth, user=user, via=via
    ).grant


def issue_form_code(form_request: FormRequest):
    return access_code_issue(
        office=form_request.office,
        patient=form_request.patient,
        kind="smart_form",
        actor=practitioner_of(form_request.office),
        channel="print",
        form_request=form_request,
    )


def grant_form(user, form_request: FormRequest) -> PortalAccess:
    """A Smart Form grant: the form's backup code redeemed by a logged-in account."""
    issued = issue_form_code(form_request)
    return access_code_redeem(typed=issued.code, user=user).grant


def open_form_link(client, form_request: FormRequest):
    """What the access link's landing does for someone without an account: the token is
    checked by the redemption service, then the code's id goes into the browser session."""
    issued = issue_form_code(form_request)
    token = issued.link.rstrip("/").rsplit("/", 1)[-1]
    redemption = access_code_redeem(token=token, user=None)
    assert redemption.grant is None
    session = client.session
    session[FORM_CODES_KEY] = [*session.get(FORM_CODES_KEY, []), redemption.access_code.pk]
    session.save()
    return redemption.access_code


def all_kinds_form(office):
    return smart_form_create(
        office=office,
        content=SmartFormContent(
            title="Before your visit",
            instructions="Please answer before you come.\nIt takes 5 minutes.",
            questions=(
                QuestionContent("Your occupation", "short_text"),
                QuestionContent("Describe your symptoms", "long_text", help_text="<b>Be</b> brief"),
                QuestionContent("Preferred contact", "single_choice", choices=("Phone", "Email")),
                QuestionContent(
                    "Which apply?", "multiple_choice", choices=("Fever", "Cough", "Headache")
                ),
                QuestionContent("Are you pregnant?", "yes_no"),
                QuestionContent("Date of your last visit", "date", required=False),
                QuestionContent("Your weight in kg", "number"),
            ),
        ),
        actor=None,
        request=None,
    )


def send_form(patient: Patient, form=None) -> FormRequest:
    form = form or smart_forms_install_defaults(office=patient.office)
    return form_request_create(
        office=patient.office,
        patient=patient,
        form=form,
        actor=practitioner_of(patient.office),
        request=None,
    )


def add_document(patient: Patient, title="Blood test results") -> Document:
    return document_upload(
        office=patient.office,
        patient=patient,
        upload=SimpleUploadedFile("blood-test.pdf", PDF, content_type="application/pdf"),
        title=title,
        document_date=date(2026, 3, 10),
        actor=practitioner_of(patient.office),
    )


@pytest.fixture
def olivia_grant(patient, olivia, dr_patel):
    """The portal account `patient` sees Olivia's records at Riverside."""
    return grant_records(patient, olivia)


@pytest.fixture
def logged_in(client, patient):
    client.force_login(patient)
    return client
