"""Real Chromium: the Office Details tabs, and removal taking effect for a logged-in person."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import SCREENSHOTS, current_totp, make_authenticator
from tests.factories import InvitationFactory, MembershipFactory, OfficeFactory

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


FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sofia",
    "James",
    "Mia",
    "Lucas",
    "Chloe",
    "Mateo",
    "Zara",
    "Omar",
    "Hana",
    "Felix",
    "Ines",
    "Kofi",
    "Leila",
    "Ravi",
]
LAST_NAMES = ["Brown", "Singh", "Martin", "Kowalski", "Haddad", "Nguyen"]


def big_realistic_office():
    """The realistic office grown to 60 practitioners and 60 staff (three pages), and a few
    pending invitations."""
    office, admin, staff = realistic_office()
    people = [(first, last) for last in LAST_NAMES for first in FIRST_NAMES]
    for n, (first, last) in enumerate(people[:112]):
        MembershipFactory(
            office=office,
            role="practitioner" if n < 55 else "staff",
            user__first_name=first,
            user__last_name=last,
            user__email=f"{first}.{last}@riverside.example".lower(),
        )
    for email in ("sam.okafor@example.com", "lee.park@example.com"):
        InvitationFactory(office=office, invited_by=admin, role="staff", email=email)
    return office, admin, staff


def test_admin_of_a_big_office_searches_removes_and_pages(new_page, screenshot, password):
    _office, admin, _staff = big_realistic_office()
    page = new_page(*DESKTOP)
    log_in_with_two_factor(page, admin, password)
    page.get_by_role("link", name="Practitioners and Staff").click()
    left = page.locator("section", has=page.locator("#col-practitioner"))
    right = page.locator("section", has=page.locator("#col-staff"))
    expect(left.get_by_role("heading", name="Practitioners (60)")).to_be_visible()
    expect(right.get_by_role("heading", name="Staff (60)")).to_be_visible()
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    expect(right.locator(".people > li")).to_have_count(25 + 2)  # members, then invitations
    screenshot(page, "team-big-office-desktop")

    # Find one person among the 120 and remove them.
    page.get_by_label("Search people").fill("priya")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/office/team/\?q=priya$"))
    expect(right.get_by_role("heading", name="Staff (1)")).to_be_visible()
    expect(left.get_by_text("No one matches “priya”.")).to_be_visible()
    expect(page.get_by_text("Page 1 of")).to_have_count(0)
    screenshot(page, "team-search-desktop")
    right.get_by_role("link", name="Remove Priya Nair").click()
    expect(page.get_by_role("heading", name=re.compile("Remove Priya Nair"))).to_be_visible()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Priya Nair was removed from Riverside Family Clinic")).to_be_visible()
    # Back on the same search, which now finds no one.
    expect(page).to_have_url(re.compile(r"/office/team/\?q=priya$"))
    expect(right.get_by_text("No one matches “priya”.")).to_be_visible()
    expect(page.get_by_label("Search people")).to_have_value("priya")
    screenshot(page, "team-search-after-remove-desktop")

    # Clear the search and page through the whole team.
    page.get_by_role("link", name="Clear").click()
    expect(right.get_by_role("heading", name="Staff (59)")).to_be_visible()
    first_on_page_1 = right.locator(".people .meta").first.inner_text()
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"/office/team/\?page=2$"))
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    expect(left.get_by_text("Showing 26–50 of 60")).to_be_visible()
    expect(right.get_by_text("Showing 26–50 of 59")).to_be_visible()
    expect(right.locator(".people .meta").first).not_to_have_text(first_on_page_1)
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("Page 3 of 3")).to_be_visible()
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    expect(right.get_by_text("Showing 51–59 of 59")).to_be_visible()
    expect(right.get_by_text("No more pending invitations on this page.")).to_be_visible()
    screenshot(page, "team-page-3-desktop")
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()

    # A phone: the search, the columns and the pager fit the screen's width.
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "team-page-2-phone")
    # What the phone's screen shows (the full-page shots are 6,000 pixels tall): the end of
    # the list with the pager.
    pager = page.get_by_role("navigation", name="Pages of practitioners and staff")
    pager.scroll_into_view_if_needed()
    expect(pager).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOTS / "team-pager-phone-screen.png"))
    page.get_by_label("Search people").fill("singh")
    page.get_by_role("button", name="Search").click()
    expect(left.get_by_role("heading", name=re.compile(r"Practitioners \(\d+\)"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=singh$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "team-search-phone")
    page.get_by_label("Search people").fill("nair\u202e")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("The search contains control characters")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "team-search-refused-phone")
    page.screenshot(path=str(SCREENSHOTS / "team-search-refused-phone-screen.png"))
