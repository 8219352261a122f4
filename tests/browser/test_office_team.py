"""Real Chromium: the Office Details tabs, and removal taking effect for a logged-in person."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import current_totp, make_authenticator
from tests.factories import MembershipFactory, OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (390, 844)
DESKTOP = (1280, 900)


def log_in_with_two_factor(page, user, password):
    device = make_authenticator(user)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/two-factor/verify/"))
    page.get_by_label("Code").fill(current_totp(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/office/$"))


def realistic_office():
    office = OfficeFactory(name="Riverside Family Clinic", address="120 River Street\nToronto")
    admin = MembershipFactory(
        office=office,
        role="practitioner",
        is_admin=True,
        user__first_name="Amelia",
        user__last_name="Hart",
        user__email="admin@riverside.example",
    ).user
    names = [("Daniel", "Chen"), ("Ngozi", "Okafor"), ("Lucas", "Moreau"), ("Aiko", "Tanaka")]
    for first, last in names:
        MembershipFactory(
            office=office,
            role="practitioner",
            user__first_name=first,
            user__last_name=last,
            user__email=f"{first.lower()}@riverside.example",
        )
    staff = None
    for first, last in [("Maria", "Lopez"), ("Tom", "Becker"), ("Priya", "Nair")]:
        staff = MembershipFactory(
            office=office,
            role="staff",
            user__first_name=first,
            user__last_name=last,
            user__email=f"{first.lower()}@riverside.example",
        ).user
    return office, admin, staff


def test_admin_removes_staff_member_who_is_logged_in_elsewhere(new_page, screenshot, password):
    _office, admin, staff = realistic_office()

    staff_page = new_page(*DESKTOP)
    log_in_with_two_factor(staff_page, staff, password)
    staff_page.get_by_role("link", name="Patients").click()
    expect(staff_page.get_by_role("heading", name="Patients")).to_be_visible()

    admin_page = new_page(*DESKTOP)
    log_in_with_two_factor(admin_page, admin, password)
    # The article: Office -> Office Details -> "Practitioners and Staff" tab.
    admin_page.get_by_role("link", name="Office", exact=True).click()
    screenshot(admin_page, "office-details-desktop")
    admin_page.get_by_role("link", name="Practitioners and Staff").click()
    left = admin_page.locator("section", has=admin_page.locator("#col-practitioner"))
    right = admin_page.locator("section", has=admin_page.locator("#col-staff"))
    expect(left.get_by_text("Daniel Chen")).to_be_visible()
    expect(right.get_by_text("Priya Nair")).to_be_visible()
    screenshot(admin_page, "practitioners-and-staff-desktop")
    admin_page.get_by_role("link", name="Activity").click()
    screenshot(admin_page, "activity-desktop")
    admin_page.get_by_role("link", name="Practitioners and Staff").click()

    right.get_by_role("link", name="Remove Priya Nair").click()
    expect(admin_page.get_by_role("heading", name=re.compile("Remove Priya Nair"))).to_be_visible()
    screenshot(admin_page, "remove-confirm-desktop")
    admin_page.get_by_role("button", name="Remove").click()
    expect(
        admin_page.get_by_text("Priya Nair was removed from Riverside Family Clinic")
    ).to_be_visible()
    expect(right.get_by_text("Priya Nair")).to_have_count(0)

    # The removed person's very next load of the patient list is refused: the removal ended
    # their sessions on the server, so it is the login page, with no patient in sight.
    staff_page.reload()
    expect(staff_page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(staff_page.get_by_role("link", name="Patients")).to_have_count(0)
    screenshot(staff_page, "removed-member-refused-desktop")


def test_office_tabs_and_removal_confirmation_on_a_phone(new_page, screenshot, password):
    _office, admin, _staff = realistic_office()
    page = new_page(*PHONE)
    log_in_with_two_factor(page, admin, password)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "office-details-phone")
    page.get_by_role("link", name="Practitioners and Staff").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "practitioners-and-staff-phone")
    page.get_by_role("link", name="Remove Maria Lopez").click()
    screenshot(page, "remove-confirm-phone")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("Maria Lopez")).to_be_visible()
