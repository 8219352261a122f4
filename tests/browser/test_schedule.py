"""Real Chromium: the front desk books an appointment on the Schedule and finds it in the week
and day views, filters by practitioner, cancels it; the week on a phone."""

import re
import zoneinfo
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outsmart.devtools.demo_schedule import seed_schedule
from records.models import Appointment, Patient
from tests.browser.test_office_team import log_in_with_two_factor, realistic_office

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (390, 844)
DESKTOP = (1280, 900)
TORONTO = zoneinfo.ZoneInfo("America/Toronto")
PATIENTS = [
    ("Olivia", "Brown", date(1984, 3, 2)),
    ("Liam", "Wilson", date(1991, 7, 14)),
    ("Emma", "Thompson", date(1978, 11, 30)),
    ("Noah", "Martin", date(2015, 5, 9)),
    ("Sophia", "Roy", date(1965, 1, 21)),
    ("Jackson", "Gagnon", date(1988, 9, 3)),
    ("Chloe", "Lee", date(2001, 12, 12)),
    ("William", "Côté", date(1957, 4, 18)),
    ("Aanya", "Patel", date(1994, 6, 25)),
    ("Mateo", "García", date(1982, 2, 8)),
    ("Fatima", "Haddad", date(1970, 10, 1)),
    ("Ethan", "MacDonald", date(1999, 8, 19)),
]


def clinic_with_a_busy_week():
    office, _admin, staff = realistic_office()
    patients = [
        Patient.objects.create(office=office, first_name=f, last_name=last, date_of_birth=born)
        for f, last, born in PATIENTS
    ]
    practitioners = {
        m.user.get_full_name(): m.user
        for m in office.memberships.filter(role="practitioner").select_related("user")
    }
    # Aiko Tanaka is left free this week, so the booking below never meets a seeded visit.
    busy = [u for name, u in practitioners.items() if name != "Aiko Tanaka"]
    seed_schedule(office, patients, busy[:3])
    return office, staff


def test_front_desk_books_an_appointment_and_finds_it_in_the_week_and_day(
    new_page, screenshot, password
):
    _office, staff = clinic_with_a_busy_week()
    today = timezone.localdate(timezone=TORONTO)
    wednesday = today - timedelta(days=today.weekday()) + timedelta(days=2)

    page = new_page(*DESKTOP)
    log_in_with_two_factor(page, staff, password)
    page.get_by_role("link", name="Schedule").click()
    expect(page.get_by_role("heading", name="Schedule", exact=True)).to_be_visible()

    page.get_by_role("link", name="Book appointment").click()
    expect(page.get_by_role("heading", name="Book appointment")).to_be_visible()
    page.get_by_label("Patient").select_option(label="Brown, Olivia (born 1984-03-02)")
    page.get_by_label("Practitioner").select_option(label="Aiko Tanaka")
    page.get_by_label("Date").fill(wednesday.isoformat())
    page.get_by_label("Start time").fill("10:30")
    page.get_by_label("Duration (minutes)").fill("45")
    page.get_by_label("Reason").fill("Twisted ankle at soccer")
    screenshot(page, "appointment-form-desktop")
    page.get_by_role("button", name="Book appointment").click()

    expect(page.get_by_text("Appointment booked: Olivia Brown with Aiko Tanaka")).to_be_visible()
    day_column = page.locator(f"section[aria-labelledby='day-{wednesday.isoformat()}']")
    booked = day_column.locator("li.appointment", has_text="Twisted ankle at soccer")
    expect(booked).to_contain_text("10:30 AM")
    expect(booked).to_contain_text("45 min")
    expect(booked).to_contain_text("Olivia Brown")
    expect(booked).to_contain_text("Aiko Tanaka")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP[0]
    screenshot(page, "schedule-week-desktop")

    # Only Aiko Tanaka's appointments.
    page.get_by_label("Practitioner").select_option(label="Aiko Tanaka")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("li.appointment")).to_have_count(1)
    expect(page.get_by_role("heading", name=re.compile("· Aiko Tanaka"))).to_be_visible()
    page.get_by_label("Practitioner").select_option(label="All practitioners")
    page.get_by_role("button", name="Show", exact=True).click()

    # The day view of that Wednesday, from the week's column heading.
    day_column.get_by_role("link").first.click()
    expect(
        page.get_by_role("heading", name=re.compile(f"{wednesday:%B} {wednesday.day}, "))
    ).to_be_visible()
    in_day = page.locator("li.appointment", has_text="Twisted ankle at soccer")
    expect(in_day).to_contain_text("10:30 AM–11:15 AM")
    screenshot(page, "schedule-day-desktop")

    page.get_by_role(
        "link", name=re.compile("Cancel appointment of Olivia Brown .* 10:30 AM")
    ).click()
    expect(page.get_by_role("heading", name="Cancel this appointment?")).to_be_visible()
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_text("Appointment cancelled: Olivia Brown")).to_be_visible()
    expect(page.get_by_text("Twisted ankle at soccer")).to_have_count(0)
    page.get_by_role("link", name="Show cancelled").click()
    cancelled = page.locator("li.appointment.is-cancelled", has_text="Twisted ankle at soccer")
    expect(cancelled).to_contain_text("Cancelled")
    assert (
        cancelled.locator("time").first.evaluate("el => getComputedStyle(el).textDecorationLine")
        == "line-through"
    )
    appointment = Appointment.objects.get(reason="Twisted ankle at soccer")
    assert (appointment.status, appointment.cancelled_by) == ("cancelled", staff)


def test_the_week_reads_on_a_phone_without_sideways_scrolling(new_page, screenshot, password):
    _office, staff = clinic_with_a_busy_week()
    page = new_page(*PHONE)
    log_in_with_two_factor(page, staff, password)
    page.get_by_role("link", name="Schedule").click()
    expect(page.locator("li.appointment").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "schedule-week-phone")
    page.get_by_role("link", name="Day", exact=True).click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(page, "schedule-day-phone")
