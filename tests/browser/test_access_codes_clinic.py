"""Real Chromium, the clinic side of access codes: a practitioner reads out a Medical Records
Access Code, prints a slip, sends a Smart Form by email, cancels one code and reissues another;
screenshots of the patient page, the phone display and the slip (on screen and as printed)."""

import re
from datetime import date

import pytest
from django.core import mail
from playwright.sync_api import expect

from accesscodes.models import AccessCode
from accesscodes.services import access_code_redeem
from outsmart.accounts.models import User
from records.models import Patient
from records.services.smartforms import smart_forms_install_defaults
from tests.browser.test_office_team import DESKTOP, log_in_with_two_factor, realistic_office
from tests.conftest import SCREENSHOTS
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown_words(page) -> list[str]:
    return [w.strip().lower() for w in page.locator("ol.code-words li").all_inner_texts()]


def test_practitioner_gives_codes_by_phone_slip_and_email_then_cancels_and_reissues(
    new_page, screenshot, password
):
    office, _admin, _staff = realistic_office()
    smart_forms_install_defaults(office=office)
    daniel = User.objects.get(email="daniel@riverside.example")
    patient = Patient.objects.create(
        office=office,
        first_name="Olivia",
        last_name="Brown",
        date_of_birth=date(1980, 3, 14),
        email="olivia.brown@example.net",
        mobile_phone="+14165550134",
    )
    page = new_page(*DESKTOP)
    log_in_with_two_factor(page, daniel, password)
    patient_url = f"/patients/{patient.pk}/"

    # By phone: the four words, large, once.
    page.goto(patient_url)
    codes = page.locator("#access-codes")
    expect(codes.get_by_text("No access codes issued to Olivia yet.")).to_be_visible()
    codes.get_by_role("link", name="Medical Records Access Code", exact=True).click()
    expect(
        page.get_by_role("heading", name="Medical Records Access Code for Olivia Brown")
    ).to_be_visible()
    page.get_by_role("radio", name=re.compile(r"^Phone")).check()
    page.get_by_role("button", name="Issue code").click()
    expect(page.get_by_role("heading", name="Read these four words to Olivia")).to_be_visible()
    read_out = shown_words(page)
    assert len(read_out) == 4
    expect(page.get_by_text("cannot be shown again")).to_be_visible()
    screenshot(page, "access-codes-phone-desktop")
    page.get_by_role("link", name="Done").click()
    page.wait_for_url(re.compile(rf"{patient_url}#access-codes$"))
    assert " ".join(read_out) not in page.content().lower()

    # Printed slip: words, QR code, portal address, instructions; a Print button (script).
    codes.get_by_role("link", name="Medical Records Access Code", exact=True).click()
    page.get_by_role("radio", name=re.compile(r"^Printed slip")).check()
    page.get_by_role("button", name="Issue code").click()
    slip = page.locator("article.slip")
    expect(slip.get_by_role("heading", name="Your Medical Records Access Code")).to_be_visible()
    printed = shown_words(page)
    assert len(printed) == 4 and printed != read_out
    expect(slip.locator(".qr svg")).to_be_visible()
    expect(slip.get_by_text("Register Here")).to_be_visible()
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    screenshot(page, "access-codes-slip-desktop")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(slip.locator(".qr svg")).to_be_visible()
    screenshot(page, "access-codes-slip-print")
    page.emulate_media(media="screen")

    # A Smart Form by email: the access link and backup code go out by the worker.
    page.goto(patient_url)
    page.get_by_role("link", name="Send a Smart Form").click()
    page.get_by_label("Smart Form").select_option(label="New patient intake")
    page.get_by_role("radio", name=re.compile(r"^Email")).check()
    assert page.get_by_label("Email address").input_value() == "olivia.brown@example.net"
    screenshot(page, "access-codes-send-smart-form-desktop")
    page.get_by_role("button", name="Send Smart Form").click()
    expect(page.get_by_role("heading", name="Smart Form sent")).to_be_visible()
    expect(page.get_by_text("olivia.brown@example.net").first).to_be_visible()
    (email,) = mail.outbox
    assert email.to == ["olivia.brown@example.net"]

    phone_code, slip_code, form_code = AccessCode.objects.order_by("pk")
    # Cancel the code read out on the phone.
    page.goto(patient_url)
    page.locator(f"#access-code-{phone_code.pk}").get_by_role("link", name="Cancel").click()
    expect(
        page.get_by_role("heading", name="Cancel this Medical Records Access Code?")
    ).to_be_visible()
    screenshot(page, "access-codes-cancel-confirm-desktop")
    page.get_by_role("button", name="Cancel code").click()
    page.wait_for_url(re.compile(rf"{patient_url}#access-codes$"))
    expect(page.get_by_text("it can no longer be used")).to_be_visible()
    expect(
        page.locator(f"#access-code-{phone_code.pk}").get_by_text("Cancelled").first
    ).to_be_visible()

    # Reissue the slip by phone instead: the old code is cancelled in the same step.
    page.locator(f"#access-code-{slip_code.pk}").get_by_role("link", name="Reissue").click()
    expect(page.get_by_role("radio", name=re.compile(r"^Printed slip"))).to_be_checked()
    page.get_by_role("radio", name=re.compile(r"^Phone")).check()
    screenshot(page, "access-codes-reissue-desktop")
    page.get_by_role("button", name="Cancel it and issue a new code").click()
    expect(page.get_by_text("The earlier code no longer works")).to_be_visible()
    reissued = shown_words(page)
    assert len(reissued) == 4
    # Olivia uses it from her portal account; the clinic sees by whom and when.
    account = UserFactory(email="olivia.b@example.org")
    access_code_redeem(typed=reissued, date_of_birth=patient.date_of_birth, user=account)
    page.get_by_role("link", name="Done").click()

    rows = page.locator("#access-codes li.access-code")
    expect(rows).to_have_count(4)
    expect(rows.first.get_by_text("by olivia.b@example.org")).to_be_visible()
    expect(
        page.locator(f"#access-code-{slip_code.pk}").get_by_text("Replaced").first
    ).to_be_visible()
    expect(page.locator(f"#access-code-{form_code.pk}").get_by_text("Sent").first).to_be_visible()
    screenshot(page, "access-codes-patient-desktop")
    page.locator("#access-codes").screenshot(
        path=str(SCREENSHOTS / "access-codes-section-desktop.png")
    )
