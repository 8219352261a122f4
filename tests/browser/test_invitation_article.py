"""Real Chromium through the help-center article "Invite or Remove Practitioners And Staff".

The admin invites a practitioner (left column) and a staff member (right column) from the
Practitioners and Staff tab; each invitee opens the registration link from the email, creates an
account with the security code filled in, sets up the two-factor authentication the office
requires, sees the invitation (on its Approve page and as a banner on every other page) and
approves it; the admin then sees both in the columns and removes the staff member, whose next page
load is refused.
"""

import base64
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from invitations.models import Invitation
from tests.browser.test_office_team import log_in_with_two_factor
from tests.conftest import current_totp
from tests.factories import MembershipFactory, OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (390, 844)
DESKTOP = (1280, 900)
OFFICE = "Riverside Family Clinic"
INVITEE_PASSWORD = "violet-harbor-lantern-42"
LINK = re.compile(r"https?://\S+?(/invitations/([A-Za-z0-9_-]+)/)")

PRACTITIONER = {
    "typed_email": "New.Doctor@Example.com",
    "email": "New.Doctor@example.com",  # the domain is lower-cased, the local part kept
    "name": "Rosa Delgado",
    "first": "Rosa",
    "last": "Delgado",
    "message": "Welcome aboard, Rosa!\nYour first clinic day is Monday.",
    "role": "practitioner",
    "column": "Invite Practitioner",
}
STAFF = {
    "typed_email": "sam.rivera@Example.NET",
    "email": "sam.rivera@example.net",
    "name": "Sam Rivera",
    "first": "Sam",
    "last": "Rivera",
    "message": "Glad to have you at the front desk.",
    "role": "staff",
    "column": "Invite Staff",
}


def riverside_office():
    office = OfficeFactory(name=OFFICE, address="120 River Street\nToronto")
    admin = MembershipFactory(
        office=office,
        role="practitioner",
        is_admin=True,
        user__first_name="Amelia",
        user__last_name="Hart",
        user__email="admin@riverside.example",
    ).user
    MembershipFactory(
        office=office,
        role="staff",
        user__first_name="Maria",
        user__last_name="Lopez",
        user__email="maria@riverside.example",
    )
    return office, admin


def columns(page):
    left = page.locator("section", has=page.locator("#col-practitioner"))
    right = page.locator("section", has=page.locator("#col-staff"))
    return left, right


def invitation_email(address: str):
    sent = [m for m in mail.outbox if m.to == [address] and LINK.search(m.body)]
    assert len(sent) == 1, [(m.to, m.subject) for m in mail.outbox]
    return sent[0]


def link_from(message) -> tuple[str, str]:
    """The registration link's path (the email's host is settings.SITE_URL, not the live
    server) and its token."""
    match = LINK.search(message.body)
    assert urlsplit(match.group(0)).path == match.group(1)
    return match.group(1), match.group(2)


def invite(admin_page, screenshot, column, person, shot: str):
    admin_page.get_by_role("link", name=person["column"]).click()
    role_word = "practitioner" if person["role"] == "practitioner" else "staff"
    expect(
        admin_page.get_by_role("heading", name=f"Invite {role_word} to {OFFICE}")
    ).to_be_visible()
    admin_page.get_by_label("Email address").fill(person["typed_email"])
    admin_page.get_by_label("Name").fill(person["name"])
    admin_page.get_by_label("Personal message").fill(person["message"])
    screenshot(admin_page, f"invitation-invite-{shot}-form")
    admin_page.get_by_role("button", name="Send invitation").click()

    admin_page.wait_for_url(re.compile(r"/office/team/$"))
    expect(admin_page.get_by_role("status")).to_contain_text(
        f"Invitation to {person['email']} saved."
    )
    pending = column.locator("ul.pending li", has_text=person["email"])
    expect(pending).to_contain_text(person["name"])
    expect(pending).to_contain_text("invited by Amelia Hart")
    expect(pending.get_by_text("Email sent", exact=True)).to_be_visible()
    expect(
        pending.get_by_role("button", name=f"Resend invitation to {person['email']}")
    ).to_be_visible()
    expect(
        pending.get_by_role("button", name=f"Revoke invitation to {person['email']}")
    ).to_be_visible()


def valid_until(person, fmt: str) -> str:
    """The invitation's last day, in the office's time zone (as the email and pages say it)."""
    invitation = Invitation.objects.get(email=person["email"])
    expires = invitation.expires_at.astimezone(ZoneInfo(invitation.office.time_zone))
    return expires.strftime(fmt).replace(" 0", " ")


def check_email(person):
    message = invitation_email(person["email"])
    assert f"It works until {valid_until(person, '%B %d, %Y')}," in message.body
    assert message.subject == f"Amelia Hart invited you to join {OFFICE} on OutSmart"
    assert f"Hello {person['name']}," in message.body
    assert f"as {person['role']}" in message.body
    assert person["message"] in message.body
    return link_from(message)


def landing_and_register_on_a_phone(new_page, screenshot, path, person):
    page = new_page(*PHONE)
    assert page.goto(path).status == 200
    expect(page.get_by_role("heading", name=f"You’re invited to join {OFFICE}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "invitation-landing-phone")
    page.get_by_role("link", name="Create your account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "invitation-register-phone")


def register_set_up_two_factor_and_see_invitation(new_page, screenshot, path, token, person):
    """From the email's link to the invitation's Approve page, in a browser of their own."""
    shot = person["role"]
    page = new_page(*DESKTOP)
    assert page.goto(path).status == 200
    expect(page.get_by_role("heading", name=f"You’re invited to join {OFFICE}")).to_be_visible()
    expect(
        page.get_by_text(f"Amelia Hart invited you to OutSmart as {person['role']}.")
    ).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(OFFICE)
    expect(facts).to_contain_text("Amelia Hart")
    expect(facts).to_contain_text(person["role"].capitalize())
    expect(facts).to_contain_text(person["email"])
    # The same last day as the email, whatever the hour in UTC.
    expect(facts.locator("dt:text-is('Valid until') + dd")).to_have_text(
        valid_until(person, "%b %d, %Y")
    )
    expect(page.locator(".personal-message")).to_contain_text(person["message"].split("\n")[0])
    screenshot(page, f"invitation-landing-{shot}")

    page.get_by_role("link", name="Create your account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    # Fixed to the invited address: disabled, and not labelled "(optional)".
    email_field = page.get_by_label("Email address", exact=True)
    expect(email_field).to_be_disabled()
    expect(email_field).to_have_value(person["email"])
    expect(page.get_by_label("Security code")).to_have_value(token)
    page.get_by_label("First name").fill(person["first"])
    page.get_by_label("Last name").fill(person["last"])
    page.get_by_label("Password", exact=True).fill(INVITEE_PASSWORD)
    page.get_by_label("Password (again)").fill(INVITEE_PASSWORD)
    screenshot(page, f"invitation-register-{shot}")
    page.get_by_role("button", name="Create account").click()

    # The office requires two-factor: set it up before approving.
    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
    expect(page.get_by_role("status")).to_contain_text(
        f"Your account is ready. {OFFICE} asks everyone to use two-factor authentication"
    )
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    device = TOTPDevice.objects.get(user__email__iexact=person["email"], confirmed=False)
    page.get_by_text("Can’t scan? Enter the key by hand").click()
    key = page.get_by_label("Setup key").inner_text()
    assert base64.b32decode(key.replace(" ", "")) == device.bin_key
    screenshot(page, f"invitation-two-factor-setup-{shot}")
    page.get_by_label("6-digit code from your app").fill(current_totp(device))
    page.get_by_role("button", name="Turn on two-factor").click()

    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    expect(page.get_by_role("list", name="Backup codes").locator("code")).to_have_count(10)
    screenshot(page, f"invitation-backup-codes-{shot}")
    page.get_by_role("link", name="I have saved my codes — continue").click()

    # The invitation's Approve page.
    page.wait_for_url(re.compile(r"/accounts/invitations/\d+/$"))
    expect(page.get_by_role("heading", name=f"Join {OFFICE}?")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Amelia Hart")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    expect(page.get_by_role("button", name="Decline")).to_be_visible()
    screenshot(page, f"invitation-approve-{shot}")

    # Any other page shows the pending invitation as a banner, without logging out and in.
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    banner = page.get_by_role("region", name="Pending invitations")
    expect(banner).to_contain_text(f"Amelia Hart invited you to join {OFFICE} as {person['role']}.")
    expect(banner.get_by_role("button", name="Approve")).to_be_visible()
    expect(banner.get_by_role("button", name="Decline")).to_be_visible()
    # No office yet, so no clinic navigation.
    expect(page.get_by_role("link", name="Schedule")).to_have_count(0)
    screenshot(page, f"invitation-banner-{shot}")
    return page


def open_schedule(page, screenshot, shot):
    expect(page.get_by_role("status")).to_contain_text(f"You joined {OFFICE}. Welcome!")
    expect(page.get_by_role("region", name="Pending invitations")).to_have_count(0)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/schedule/") as schedule:
        page.get_by_role("link", name="Schedule").click()
    assert schedule.value.status == 200
    expect(page.get_by_role("heading", name="Schedule", exact=True)).to_be_visible()
    expect(page.get_by_text(f"{OFFICE} · times in America/Toronto")).to_be_visible()
    screenshot(page, f"invitation-schedule-{shot}")


def test_invite_register_approve_and_remove_as_in_the_article(new_page, screenshot, password):
    _office, admin = riverside_office()

    # The article: Office in the main navigation -> the "Practitioners and Staff" tab.
    admin_page = new_page(*DESKTOP)
    log_in_with_two_factor(admin_page, admin, password)
    admin_page.get_by_role("link", name="Office", exact=True).click()
    admin_page.get_by_role("link", name="Practitioners and Staff").click()
    left, right = columns(admin_page)
    expect(left.get_by_text("Amelia Hart")).to_be_visible()
    expect(right.get_by_text("Maria Lopez")).to_be_visible()

    # Left column: invite a practitioner; right column: invite a staff member.
    invite(admin_page, screenshot, left, PRACTITIONER, "practitioner")
    screenshot(admin_page, "invitation-pending-practitioner")
    invite(admin_page, screenshot, right, STAFF, "staff")
    expect(left.get_by_role("heading", name="Pending invitations (1)")).to_be_visible()
    expect(right.get_by_role("heading", name="Pending invitations (1)")).to_be_visible()
    screenshot(admin_page, "invitation-pending-both")

    doctor_path, doctor_token = check_email(PRACTITIONER)
    staff_path, staff_token = check_email(STAFF)

    # The landing page and the form as they look on a phone (before anyone registered).
    landing_and_register_on_a_phone(new_page, screenshot, doctor_path, PRACTITIONER)

    # The practitioner approves from the invitation's Approve page ...
    doctor_page = register_set_up_two_factor_and_see_invitation(
        new_page, screenshot, doctor_path, doctor_token, PRACTITIONER
    )
    doctor_page.get_by_role("region", name="Pending invitations").get_by_role(
        "link", name="Details"
    ).click()
    expect(doctor_page.get_by_role("heading", name=f"Join {OFFICE}?")).to_be_visible()
    doctor_page.get_by_role("button", name="Approve").click()
    open_schedule(doctor_page, screenshot, "practitioner")

    # ... the staff member from the banner.
    staff_page = register_set_up_two_factor_and_see_invitation(
        new_page, screenshot, staff_path, staff_token, STAFF
    )
    staff_page.get_by_role("region", name="Pending invitations").get_by_role(
        "button", name="Approve"
    ).click()
    open_schedule(staff_page, screenshot, "staff")

    # The inviter is told of each approval.
    to_admin = [m.subject for m in mail.outbox if m.to == [admin.email]]
    assert f"Rosa Delgado joined {OFFICE} on OutSmart" in to_admin
    assert f"Sam Rivera joined {OFFICE} on OutSmart" in to_admin

    # Back at the admin's tab: both joined their columns, nothing pending.
    admin_page.reload()
    left, right = columns(admin_page)
    expect(left.locator("ul.people li", has_text="Rosa Delgado")).to_contain_text(
        "new.doctor@example.com", ignore_case=True
    )
    expect(right.locator("ul.people li", has_text="Sam Rivera")).to_contain_text(STAFF["email"])
    expect(left.get_by_text("Sam Rivera")).to_have_count(0)
    expect(right.get_by_text("Rosa Delgado")).to_have_count(0)
    expect(admin_page.get_by_role("heading", name=re.compile("Pending invitations"))).to_have_count(
        0
    )
    expect(admin_page.locator("ul.pending")).to_have_count(0)
    screenshot(admin_page, "invitation-team-after")

    # The article: remove someone with the Remove button next to their name.
    right.get_by_role("link", name="Remove Sam Rivera").click()
    expect(
        admin_page.get_by_role("heading", name=f"Remove Sam Rivera from {OFFICE}?")
    ).to_be_visible()
    screenshot(admin_page, "invitation-remove-confirm")
    admin_page.get_by_role("button", name="Remove", exact=True).click()
    expect(admin_page.get_by_text(f"Sam Rivera was removed from {OFFICE}")).to_be_visible()
    expect(right.get_by_text("Sam Rivera")).to_have_count(0)

    # The removed staff member's very next page load is refused: their sessions ended on the
    # server with the removal, so it is the login page.
    staff_page.reload()
    expect(staff_page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(staff_page.get_by_role("link", name="Schedule")).to_have_count(0)
    expect(staff_page.get_by_role("link", name="Patients")).to_have_count(0)
    screenshot(staff_page, "invitation-removed-refused")

    # The practitioner is unaffected.
    assert doctor_page.reload().status == 200
    expect(doctor_page.get_by_role("heading", name="Schedule", exact=True)).to_be_visible()
