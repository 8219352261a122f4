"""Real Chromium follows the help-center article "How to redeem an access code" step by step, as
a patient would, at phone width (390 px) and desktop width (1280 px)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from accesscodes.services import access_code_issue
from offices.models import Office
from portal.models import PortalAccess
from records.models import Appointment, TreatmentPlan
from records.services.smartforms import form_request_create, smart_forms_install_defaults
from tests.browser.test_office_team import DESKTOP, PHONE
from tests.factories import MembershipFactory, OfficeFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOB = date(1986, 4, 12)
PASSWORD = "plum-harbor-violin-42"
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


def clinic(name: str, tz: str = "America/Toronto"):
    office = OfficeFactory(name=name, time_zone=tz)
    doctor = MembershipFactory(
        office=office, role="practitioner", user__first_name="Ana", user__last_name="Lopez"
    ).user
    patient = PatientFactory(
        office=office,
        first_name="Olivia",
        last_name="Brown",
        date_of_birth=DOB,
        email="olivia@example.net",
    )
    TreatmentPlan.objects.create(
        office=office,
        patient=patient,
        title=f"Knee rehabilitation at {name}",
        body="Exercises twice a day.",
        plan_date=timezone.localdate(),
        author=doctor,
    )
    Appointment.objects.create(
        office=office,
        patient=patient,
        practitioner=doctor,
        starts_at=timezone.now() + timedelta(days=3),
        reason="Follow-up",
    )
    return office, doctor, patient


def code_for(office: Office, doctor, patient, kind="medical_records", **kwargs):
    return access_code_issue(
        office=office, patient=patient, kind=kind, actor=doctor, channel="print", **kwargs
    )


def type_code(page, words):
    for i, word in enumerate(words, start=1):
        page.get_by_label(f"Word {i}").fill(word)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_patient_without_an_account_registers_with_a_code_and_sees_the_dashboard(
    new_page, screenshot, width
):
    office, doctor, patient = clinic("Riverside Clinic")
    issued = code_for(office, doctor, patient)
    page = new_page(*WIDTHS[width])

    # 1. Go to the portal.  2. Click "Register Here" at the bottom of the page.
    page.goto("/portal/")
    screenshot(page, f"article_portal_login_{width}")
    page.get_by_role("link", name="Register Here").click()

    # 3. Complete the whole form.  4. Enter the Access Code at the bottom, click "Submit".
    page.get_by_label("First name").fill("Olivia")
    page.get_by_label("Last name").fill("Brown")
    page.get_by_label("Date of birth").fill(DOB.isoformat())
    page.get_by_label("Email address").fill("olivia@example.net")
    page.get_by_label("Password").fill(PASSWORD)
    # Pasting the whole code into the first field spreads it over the four.
    page.get_by_label("Word 1").focus()
    page.evaluate(
        """code => {
            const data = new DataTransfer();
            data.setData("text/plain", code);
            const paste = new ClipboardEvent(
                "paste", {clipboardData: data, bubbles: true, cancelable: true});
            document.activeElement.dispatchEvent(paste);
        }""",
        issued.code.upper(),
    )
    assert page.get_by_label("Word 4").input_value() == issued.words[3]
    screenshot(page, f"article_register_filled_{width}")
    page.get_by_role("button", name="Submit").click()

    # 5. Logged in automatically, on the Dashboard, with the medical data.
    page.wait_for_url("**/portal/dashboard/")
    body = page.locator("main").inner_text()
    assert "Riverside Clinic" in body
    assert "Knee rehabilitation at Riverside Clinic" in body
    assert "Follow-up" in body
    screenshot(page, f"article_dashboard_{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[width][0]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_patient_with_an_account_adds_a_second_clinic_with_plus_access_code(
    new_page, screenshot, width
):
    office, doctor, patient = clinic("Riverside Clinic")
    user = UserFactory(email="olivia@example.net", first_name="Olivia", last_name="Brown")
    user.set_password(PASSWORD)
    user.save()
    first = code_for(office, doctor, patient)
    from accesscodes.services import access_code_redeem

    access_code_redeem(code_id=first.access_code.pk, date_of_birth=DOB, user=user)
    second_office, second_doctor, second_patient = clinic("Hilltop Physio", "America/Vancouver")
    issued = code_for(second_office, second_doctor, second_patient)
    page = new_page(*WIDTHS[width])

    # 1. Log into the account.
    page.goto("/portal/")
    page.get_by_label("Email").fill("olivia@example.net")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/dashboard/")
    assert "Hilltop Physio" not in page.locator("main").inner_text()

    # 2. Click the green "+Access Code" button at the top right.
    button = page.get_by_role("link", name="+Access Code")
    colour = button.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(30, 125, 50)"
    screenshot(page, f"article_dashboard_before_code_{width}")
    button.click()

    # 3. Enter the code into the fields that come up, click "Submit".
    type_code(page, [w.capitalize() for w in issued.words])
    page.get_by_role("button", name="Submit").click()
    # A medical-records code asks the patient's date of birth.
    page.get_by_label("Patient's date of birth").fill(DOB.isoformat())
    screenshot(page, f"article_access_code_dob_{width}")
    page.get_by_role("button", name="Submit").click()

    # 4. The dashboard refreshes, connected to the new data.
    page.wait_for_url("**/portal/dashboard/")
    body = page.locator("main").inner_text()
    assert "Hilltop Physio" in body and "Riverside Clinic" in body
    assert "Knee rehabilitation at Hilltop Physio" in body
    screenshot(page, f"article_dashboard_two_clinics_{width}")
    assert PortalAccess.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("width", WIDTHS)
def test_an_expired_medical_records_code_is_refused_with_the_articles_advice(
    new_page, screenshot, width
):
    office, doctor, patient = clinic("Riverside Clinic")
    with time_machine.travel(timezone.now() - timedelta(days=5, minutes=1)):
        issued = code_for(office, doctor, patient)
    page = new_page(*WIDTHS[width])
    page.goto("/portal/register/")
    page.get_by_label("First name").fill("Olivia")
    page.get_by_label("Last name").fill("Brown")
    page.get_by_label("Date of birth").fill(DOB.isoformat())
    page.get_by_label("Email address").fill("olivia@example.net")
    page.get_by_label("Password").fill(PASSWORD)
    type_code(page, issued.words)
    page.get_by_role("button", name="Submit").click()
    alert = page.get_by_role("alert").filter(has_text="5 days")
    assert "only valid for 5 days" in alert.inner_text()
    assert "ask your practitioner for a new one" in alert.inner_text()
    # Everything typed is kept but the password.
    assert page.get_by_label("Email address").input_value() == "olivia@example.net"
    assert page.get_by_label("Password").input_value() == ""
    screenshot(page, f"article_expired_code_{width}")
    assert not PortalAccess.objects.exists()


def smart_form_link(office, doctor, patient):
    intake = smart_forms_install_defaults(office=office)
    form_request = form_request_create(
        office=office, patient=patient, form=intake, actor=doctor, request=None
    )
    issued = access_code_issue(
        office=office,
        patient=patient,
        kind="smart_form",
        actor=doctor,
        channel="print",
        form_request=form_request,
    )
    return issued, form_request


@pytest.mark.parametrize("width", WIDTHS)
def test_a_smart_form_link_is_filled_without_an_account(new_page, screenshot, width):
    office, doctor, patient = clinic("Riverside Clinic")
    issued, form_request = smart_form_link(office, doctor, patient)
    page = new_page(*WIDTHS[width])

    # The link from the email opens the questionnaire directly: no account, no code to type.
    page.goto("/" + issued.link.split("://", 1)[1].split("/", 1)[1])
    assert page.get_by_role("heading", level=1).inner_text() == form_request.title
    assert "Log in" in page.locator("nav").inner_text()  # not logged in
    page.get_by_label("What is the main reason for your visit?").fill("Pain in my right knee.")
    page.get_by_label("Which medications do you take at the moment?").fill("None")
    page.get_by_role("group", name="Do you have any allergies?").get_by_label("No").check()
    page.get_by_role("group", name="Do you smoke?").get_by_label("Never smoked").check()
    page.get_by_role("group", name="Have you ever been told").get_by_label("Diabetes").check()
    page.get_by_label("How much pain do you have today, from 0 to 10?").fill("4")
    screenshot(page, f"article_smart_form_filled_{width}")
    page.get_by_role("button", name="Review answers").click()
    expect(page.locator("main")).to_contain_text("Pain in my right knee.")
    screenshot(page, f"article_smart_form_review_{width}")
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("heading", name="Thank you!").wait_for()
    screenshot(page, f"article_smart_form_done_{width}")

    form_request.refresh_from_db()
    assert form_request.status == "submitted"
    assert form_request.answers[str(form_request.questions[0]["id"])] == "Pain in my right knee."
    issued.access_code.refresh_from_db()
    assert issued.access_code.status == "redeemed"
    # The session reached that form and nothing else; the link has done its job.
    page.goto("/portal/dashboard/")
    assert "/portal/" in page.url and "next=" in page.url
    assert not PortalAccess.objects.exists()
