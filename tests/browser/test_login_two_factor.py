"""Real Chromium: a clinic member logs in, sets up two-factor, and logs in again with it."""

import base64
import re

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (390, 844)
DESKTOP = (1280, 900)


def totp_now(key_text: str) -> str:
    key = base64.b32decode(key_text.replace(" ", ""))
    return f"{TOTP(key).token():06d}"


def log_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_clinic_member_sets_up_two_factor_then_logs_in_with_a_backup_code(
    new_page, screenshot, password
):
    user = MembershipFactory(user__email="dr.kim@lakeside.example", role="practitioner").user
    page = new_page(*DESKTOP)
    page.goto("/accounts/login/")
    screenshot(page, "login-desktop")
    log_in(page, user.email, password)

    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot(page, "two-factor-setup-desktop")
    page.get_by_text("Can’t scan? Enter the key by hand").click()
    key_text = page.locator(".secret-key code").inner_text()
    page.get_by_label("6-digit code from your app").fill(totp_now(key_text))
    page.get_by_role("button", name="Turn on two-factor").click()

    codes = page.locator(".backup-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "backup-codes-desktop")
    page.get_by_role("link", name="I have saved my codes — continue").click()
    page.goto("/accounts/")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_text("On", exact=True)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    log_in(page, user.email, password)
    page.wait_for_url(re.compile(r"/accounts/two-factor/verify/"))
    screenshot(page, "two-factor-verify-desktop")
    page.get_by_label("Code").fill("WRONG-CODE0")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    # A clinic member lands on their office.
    page.wait_for_url(re.compile(r"/office/$"))
    expect(page.get_by_text("You signed in with a backup code")).to_be_visible()


def test_login_setup_and_404_pages_at_phone_and_desktop_widths(new_page, screenshot, password):
    user = MembershipFactory(user__email="desk@lakeside.example", role="staff").user
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_page(*size)
        page.goto("/accounts/login/")
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        screenshot(page, f"login-{label}")
        page.goto("/portal/")
        expect(page.get_by_role("link", name="Register Here")).to_be_visible()
        screenshot(page, f"portal-login-{label}")
        response = page.goto("/this/does/not/exist/")
        assert response.status == 404
        expect(page.get_by_role("heading", name="We can’t find that page")).to_be_visible()
        screenshot(page, f"404-{label}")
        log_in(page, user.email, password)
        page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
        assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        screenshot(page, f"two-factor-setup-{label}")
        # Keyboard: the code field can be reached and focus is visible.
        page.get_by_label("6-digit code from your app").focus()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
