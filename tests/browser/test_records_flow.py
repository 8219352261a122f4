"""Real Chromium, issue 5's walk: a practitioner creates a patient, books an appointment,
uploads a document and writes a treatment plan; then the patient list, the full patient page
and the schedule week at desktop and phone widths."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from records.models import Appointment, Document, Patient, TreatmentPlan
from tests.browser.test_office_team import log_in_with_two_factor, realistic_office
from tests.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }


def test_practitioner_builds_a_patient_chart_in_the_browser(
    new_page, screenshot, password, private_storage, tmp_path
):
    office, admin, _staff = realistic_office()
    for n in range(12):
        PatientFactory(office=office, last_name=f"Example{n:02}")
    page = new_page()
    log_in_with_two_factor(page, admin, password)

    # Patients -> Add patient
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Add patient").click()
    page.get_by_label("First name").fill("Anna")
    page.get_by_label("Last name").fill("Kowalski")
    page.get_by_label("Date of birth").fill("1984-06-02")
    page.get_by_label("Email").fill("anna.k@example.net")
    page.get_by_label("Mobile phone").fill("+1 416 555 0177")
    page.get_by_role("button", name="Add patient").click()
    page.wait_for_url(re.compile(r"/patients/\d+/$"))
    patient = Patient.objects.get(last_name="Kowalski")
    assert patient.mobile_phone == "+14165550177"

    # Book an appointment from the patient page.
    page.get_by_role("link", name="Book appointment").click()
    page.get_by_label("Practitioner").select_option(label=str(admin.get_full_name()))
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.get_by_label("Date").fill(tomorrow.isoformat())
    page.get_by_label("Start time").fill("10:30")
    page.get_by_label("Reason").fill("Initial assessment")
    page.get_by_role("button", name="Book appointment").click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/$"))
    assert Appointment.objects.filter(patient=patient, reason="Initial assessment").exists()

    # Upload a document.
    pdf = tmp_path / "referral-letter.pdf"
    pdf.write_bytes(PDF)
    page.get_by_role("link", name="Upload document").click()
    page.get_by_label("File").set_input_files(str(pdf))
    page.get_by_label("Title").fill("Referral letter")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/$"))
    assert Document.objects.get(patient=patient).original_name == "referral-letter.pdf"

    # Write a treatment plan.
    page.get_by_role("link", name="New treatment plan").click()
    page.get_by_label("Title").fill("Shoulder rehabilitation")
    page.get_by_label("Plan", exact=True).fill(
        "Weeks 1-2: pendulum exercises, ice after.\n\nWeeks 3-6: band rotations, 3 x 12."
    )
    page.get_by_role("button", name="Save treatment plan").click()
    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/$"))
    assert TreatmentPlan.objects.get(patient=patient).author == admin

    body = page.locator("main").inner_text()
    for text in ("Initial assessment", "Referral letter", "Shoulder rehabilitation", "Weeks 3-6"):
        assert text in body, text
    screenshot(page, "records-patient-page-desktop")

    page.get_by_role("link", name="Patients", exact=True).click()
    screenshot(page, "records-patient-list-desktop")
    page.get_by_role("link", name="Schedule").click()
    page.goto(f"/schedule/?view=week&date={tomorrow.isoformat()}")
    assert "Anna Kowalski" in page.locator("main").inner_text()
    screenshot(page, "records-schedule-week-desktop")

    phone = page
    phone.set_viewport_size({"width": 390, "height": 844})
    for url, name in (
        ("/patients/", "records-patient-list-phone"),
        (f"/patients/{patient.pk}/", "records-patient-page-phone"),
        (f"/schedule/?view=week&date={tomorrow.isoformat()}", "records-schedule-week-phone"),
    ):
        phone.goto(url)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} scrolls sideways ({width}px)"
        screenshot(phone, name)
