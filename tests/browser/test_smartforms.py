"""Real Chromium: a practitioner adds a question to the intake template, then reads a patient's
submitted answers on the patient page, at desktop and phone widths."""

import re

import pytest
from playwright.sync_api import expect

from records.models import Patient
from records.services.smartforms import (
    form_request_create,
    form_request_submit,
    smart_forms_install_defaults,
)
from tests.browser.test_office_team import DESKTOP, PHONE, log_in_with_two_factor, realistic_office
from tests.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INTAKE_ANSWERS = [
    "Pain in my right knee after running, swelling in the evening. It started three weeks ago "
    "after a 10 km race and is worse on stairs.",
    "Ibuprofen 400 mg when needed\nVitamin D 1000 IU every morning",
    "yes",
    "Penicillin: a rash all over my arms.",
    "Former smoker",
    ["High blood pressure", "Asthma or COPD"],
    None,
    "5",
]


def submitted_intake(office, author):
    intake = smart_forms_install_defaults(office=office)
    patient = Patient.objects.create(
        office=office, first_name="Olivia", last_name="Brown", email="olivia@example.net"
    )
    form_request = form_request_create(
        office=office, patient=patient, form=intake, actor=author, request=None
    )
    data = {
        f"q_{q['id']}": answer
        for q, answer in zip(form_request.questions, INTAKE_ANSWERS, strict=True)
        if answer is not None
    }
    form_request_submit(form_request=form_request, data=data)
    return intake, patient


def test_practitioner_adds_a_question_then_reads_a_patients_answers(new_page, screenshot, password):
    office, admin, _staff = realistic_office()
    intake, patient = submitted_intake(office, admin)

    page = new_page(*DESKTOP)
    log_in_with_two_factor(page, admin, password)
    page.goto("/smart-forms/")
    expect(page.get_by_role("heading", name="Smart Forms")).to_be_visible()
    page.get_by_role("link", name="Edit New patient intake").click()
    expect(page.get_by_role("heading", name="Edit Smart Form")).to_be_visible()

    new = page.locator("li.question-card.is-new").first
    new.get_by_label("Order").fill("3")
    new.get_by_label("Question", exact=True).fill("Who is your family doctor?")
    new.get_by_label("Answer type").select_option(label="Short text")
    new.get_by_label("Required").uncheck()
    new.get_by_label("Hint for the patient").fill("Their name and clinic, if you have one.")
    screenshot(page, "smartforms-edit-desktop")
    page.get_by_role("button", name="Save changes").click()

    page.wait_for_url(re.compile(rf"/smart-forms/{intake.pk}/$"))
    expect(page.get_by_text("“New patient intake” was saved.")).to_be_visible()
    labels = page.locator(".smartform-sheet .field > label").all_inner_texts()
    assert labels[2] == "Who is your family doctor? (optional)"
    assert len(labels) == 9
    screenshot(page, "smartforms-preview-desktop")

    # The answers were given before the edit: they still show the questions as sent.
    page.goto(f"/patients/{patient.pk}/")
    section = page.locator("section", has=page.locator("#forms-h"))
    expect(section.get_by_text("Submitted", exact=True)).to_be_visible()
    section.screenshot(path=str(SCREENSHOTS / "smartforms-patient-desktop.png"))
    section.get_by_role("link", name=re.compile("View answers to New patient intake")).click()
    expect(page.get_by_role("heading", name="New patient intake")).to_be_visible()
    expect(page.get_by_text("Pain in my right knee after running")).to_be_visible()
    expect(page.get_by_text("Who is your family doctor?")).to_have_count(0)
    expect(page.get_by_text("No answer")).to_be_visible()
    screenshot(page, "smartforms-answers-desktop")

    # The same session on a phone-sized screen (a second two-factor login in the same
    # 30-second window would reuse the code).
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    page.reload()
    expect(page.get_by_text("Asthma or COPD")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "smartforms-answers-phone")
