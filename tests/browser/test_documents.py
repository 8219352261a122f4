"""Real Chromium: upload a PDF to a patient through the page and download it again."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outsmart.devtools.demo_documents import tiny_pdf
from records.models import Document, Patient
from tests.browser.test_office_team import DESKTOP, PHONE, log_in_with_two_factor
from tests.factories import MembershipFactory, OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = tiny_pdf("Blood test results", ["Patient: Olivia Brown", "Haemoglobin 138 g/L (130-170)"])


LAST_WEEK = (timezone.localdate() - timedelta(days=7)).isoformat()


@pytest.fixture(autouse=True)
def storage_dir(settings, tmp_path):
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location, "base_url": None},
        },
    }
    return location


@pytest.fixture
def clinic():
    office = OfficeFactory(name="Riverside Family Clinic")
    practitioner = MembershipFactory(
        office=office,
        role="practitioner",
        user__first_name="Daniel",
        user__last_name="Chen",
        user__email="dr.chen@riverside.example",
    ).user
    patient = Patient.objects.create(
        office=office, first_name="Olivia", last_name="Brown", date_of_birth=date(1984, 5, 2)
    )
    return practitioner, patient


def test_practitioner_uploads_a_pdf_and_downloads_it_again(
    new_page, screenshot, password, clinic, tmp_path
):
    practitioner, patient = clinic
    page = new_page(*DESKTOP)
    log_in_with_two_factor(page, practitioner, password)
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Upload document").click()
    expect(page.get_by_role("heading", name="Upload a document")).to_be_visible()

    page.get_by_label("File").set_input_files(
        {"name": "blood-test-results.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label("Title").fill("Blood test results")
    page.get_by_label("Date").fill(LAST_WEEK)
    screenshot(page, "documents-upload-desktop")
    page.get_by_role("button", name="Upload").click()

    page.wait_for_url(re.compile(rf"/patients/{patient.pk}/$"))
    expect(
        page.get_by_text("“Blood test results” was added to Olivia Brown’s documents.")
    ).to_be_visible()
    documents = page.locator("section", has=page.locator("#documents-h"))
    expect(documents.get_by_text("blood-test-results.pdf")).to_be_visible()
    documents.scroll_into_view_if_needed()
    screenshot(page, "documents-on-patient-page-desktop")

    with page.expect_download() as download_info:
        documents.get_by_role("link", name="Blood test results").click()
    download = download_info.value
    assert download.suggested_filename == "blood-test-results.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == PDF
    assert Document.objects.get().original_name == "blood-test-results.pdf"


def test_a_file_that_is_not_a_pdf_is_refused_on_a_phone(new_page, screenshot, password, clinic):
    practitioner, patient = clinic
    page = new_page(*PHONE)
    log_in_with_two_factor(page, practitioner, password)
    page.goto(f"/patients/{patient.pk}/documents/new/")
    page.get_by_label("File").set_input_files(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"<html>not a pdf"}
    )
    page.get_by_label("Title").fill("Invoice")
    page.get_by_label("Date").fill(LAST_WEEK)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("is named like a PDF but its content is not a PDF")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "documents-upload-refused-phone")
    assert not Document.objects.exists()
