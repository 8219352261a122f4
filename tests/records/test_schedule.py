"""The Schedule: booking, changing and cancelling appointments (services and pages), the day and
week views in the office's time zone, and everything wrong a person can send."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outsmart.audit.models import AuditEvent
from outsmart.devtools.demo_schedule import seed_schedule
from records.models import Appointment, Patient
from records.selectors.schedule import office_schedule, patient_appointments
from records.services.schedule import (
    AppointmentError,
    appointment_cancel,
    appointment_create,
    appointment_update,
)
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

TORONTO = zoneinfo.ZoneInfo("America/Toronto")
# Wednesday March 11, 2026, noon in Toronto (EDT, UTC-4: the clocks went forward on March 8).
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=TORONTO)
SCHEDULE = reverse("records:schedule")
CREATE = reverse("records:appointment_create")


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TORONTO)


def make_patient(office, first="Olivia", last="Brown", **extra) -> Patient:
    return Patient.objects.create(office=office, first_name=first, last_name=last, **extra)


def book(patient, practitioner, starts_at, minutes=30, reason="", **extra) -> Appointment:
    return Appointment.objects.create(
        office=patient.office,
        patient=patient,
        practitioner=practitioner,
        starts_at=starts_at,
        duration_minutes=minutes,
        reason=reason,
        **extra,
    )


@pytest.fixture
def olivia(office):
    return make_patient(office, date_of_birth=date(1984, 3, 2))


@pytest.fixture
def hilltop_patient(other_office):
    return make_patient(other_office, "Harold", "Hill")


def edit_url(appointment):
    return reverse("records:appointment_edit", args=[appointment.pk])


def cancel_url(appointment):
    return reverse("records:appointment_cancel", args=[appointment.pk])


def form_data(patient, practitioner, /, **changes):
    data = {
        "patient": patient.pk if patient else "",
        "practitioner": practitioner.pk if practitioner else "",
        "date": "2026-03-12",
        "start_time": "09:30",
        "duration_minutes": "30",
        "reason": "Follow-up: blood pressure",
    }
    data.update(changes)
    return data


def create_kwargs(office, patient, practitioner, **changes):
    kwargs = {
        "office": office,
        "patient": patient,
        "practitioner": practitioner,
        "starts_at": local(12, 9, 30),
        "duration_minutes": 30,
        "reason": "Follow-up: blood pressure",
        "actor": practitioner,
        "request": None,
    }
    kwargs.update(changes)
    return kwargs


# --- services ------------------------------------------------------------------------------
def test_booking_stores_the_appointment_and_audits_it_with_the_patient(
    office, olivia, practitioner, staff
):
    appointment = appointment_create(
        **create_kwargs(office, olivia, practitioner, actor=staff, reason="  Knee \n pain ")
    )
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime(2026, 3, 12, 13, 30, tzinfo=UTC)
    assert (appointment.office, appointment.patient, appointment.practitioner) == (
        office,
        olivia,
        practitioner,
    )
    assert appointment.reason == "Knee pain"
    assert (appointment.status, appointment.created_by) == ("booked", staff)
    event = AuditEvent.objects.get(action="appointment.created")
    assert (event.actor, event.office, event.patient) == (staff, office, olivia)
    assert event.target_id == str(appointment.pk)
    assert "Knee" not in str(event.detail)  # the reason is clinical content


def test_booking_refuses_a_patient_of_another_office(office, practitioner, hilltop_patient):
    with pytest.raises(AppointmentError, match="patient of this office") as error:
        appointment_create(**create_kwargs(office, hilltop_patient, practitioner))
    assert error.value.field == "patient"
    assert not Appointment.objects.exists()
    assert not AuditEvent.objects.filter(action="appointment.created").exists()


@pytest.mark.parametrize("who", ["staff", "removed_practitioner", "outsider"])
def test_booking_refuses_anyone_but_an_active_practitioner_of_the_office(
    who, request, office, olivia, admin
):
    if who == "removed_practitioner":
        membership = MembershipFactory(office=office, role="practitioner")
        membership.removed_at = timezone.now()
        membership.save()
        person = membership.user
    else:
        person = request.getfixturevalue(who)
    with pytest.raises(AppointmentError, match="is not a practitioner of Lakeside") as error:
        appointment_create(**create_kwargs(office, olivia, person, actor=admin))
    assert error.value.field == "practitioner"
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("minutes", [0, -30, 4, 481])
def test_booking_refuses_a_duration_that_ends_before_the_start_or_is_too_long(
    minutes, office, olivia, practitioner
):
    with pytest.raises(AppointmentError, match="must end after it starts") as error:
        appointment_create(**create_kwargs(office, olivia, practitioner, duration_minutes=minutes))
    assert error.value.field == "duration_minutes"
    assert not Appointment.objects.exists()


def test_booking_refuses_an_overlap_for_the_same_practitioner_only(
    office, olivia, practitioner, admin
):
    existing = book(olivia, practitioner, local(12, 9, 0), minutes=60)
    for start, minutes in [(local(12, 9, 30), 15), (local(12, 8, 30), 45), (local(12, 8), 480)]:
        with pytest.raises(AppointmentError, match="already has an appointment from 9:00 AM"):
            appointment_create(
                **create_kwargs(
                    office, olivia, practitioner, starts_at=start, duration_minutes=minutes
                )
            )
    # Back to back is fine, so is another practitioner at the same time.
    appointment_create(**create_kwargs(office, olivia, practitioner, starts_at=local(12, 10)))
    appointment_create(**create_kwargs(office, olivia, practitioner, starts_at=local(12, 8, 30)))
    appointment_create(**create_kwargs(office, olivia, admin, starts_at=local(12, 9)))
    # A cancelled appointment frees its time.
    appointment_cancel(appointment=existing, actor=admin, request=None)
    appointment_create(**create_kwargs(office, olivia, practitioner, starts_at=local(12, 9, 15)))
    assert Appointment.objects.filter(status="booked").count() == 4


def test_update_changes_the_appointment_and_audits_which_fields_changed(
    office, olivia, practitioner, admin, staff
):
    appointment = book(olivia, practitioner, local(12, 9), reason="Flu shot")
    noah = make_patient(office, "Noah", "Green")
    appointment_update(
        appointment=appointment,
        patient=noah,
        practitioner=admin,
        starts_at=local(13, 14),
        duration_minutes=45,
        reason="Flu shot",
        actor=staff,
        request=None,
    )
    appointment.refresh_from_db()
    assert (appointment.patient, appointment.practitioner) == (noah, admin)
    assert (appointment.starts_at, appointment.duration_minutes) == (local(13, 14), 45)
    event = AuditEvent.objects.get(action="appointment.updated")
    assert (event.actor, event.patient) == (staff, noah)
    assert event.detail == {
        "changed": ["patient", "practitioner", "starts_at", "duration_minutes"],
        "previous_patient_id": olivia.pk,
    }


def test_saving_an_unchanged_appointment_writes_no_audit_event(office, olivia, practitioner):
    appointment = book(olivia, practitioner, local(12, 9), reason="Flu shot")
    appointment_update(
        appointment=appointment,
        patient=olivia,
        practitioner=practitioner,
        starts_at=local(12, 9),
        duration_minutes=30,
        reason="Flu shot",
        actor=practitioner,
        request=None,
    )
    assert not AuditEvent.objects.filter(action="appointment.updated").exists()


def test_update_may_keep_or_extend_its_own_slot_but_not_run_into_another(
    office, olivia, practitioner
):
    first = book(olivia, practitioner, local(12, 9))
    book(olivia, practitioner, local(12, 10))
    change = {
        "appointment": first,
        "patient": olivia,
        "practitioner": practitioner,
        "starts_at": local(12, 9),
        "reason": "",
        "actor": practitioner,
        "request": None,
    }
    appointment_update(**change, duration_minutes=60)
    with pytest.raises(AppointmentError, match="already has an appointment from 10:00 AM"):
        appointment_update(**change, duration_minutes=75)
    first.refresh_from_db()
    assert first.duration_minutes == 60


def test_an_appointment_stays_with_a_practitioner_who_left_but_nobody_new_is_booked_with_them(
    office, olivia, practitioner, admin
):
    appointment = book(olivia, practitioner, local(12, 9))
    membership = practitioner.memberships.get()
    membership.removed_at = timezone.now()
    membership.save()
    appointment_update(
        appointment=appointment,
        patient=olivia,
        practitioner=practitioner,
        starts_at=local(12, 9),
        duration_minutes=30,
        reason="Moved to the morning",
        actor=admin,
        request=None,
    )
    with pytest.raises(AppointmentError, match="not a practitioner"):
        appointment_create(**create_kwargs(office, olivia, practitioner, starts_at=local(13, 9)))
    other = book(olivia, admin, local(14, 9))
    with pytest.raises(AppointmentError, match="not a practitioner"):
        appointment_update(
            appointment=other,
            patient=olivia,
            practitioner=practitioner,
            starts_at=local(14, 9),
            duration_minutes=30,
            reason="",
            actor=admin,
            request=None,
        )


def test_cancelling_keeps_the_row_with_who_and_when_and_cannot_happen_twice(
    office, olivia, practitioner, staff
):
    appointment = book(olivia, practitioner, local(12, 9))
    appointment_cancel(appointment=appointment, actor=staff, request=None)
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert (appointment.cancelled_by, appointment.cancelled_at) == (staff, timezone.now())
    event = AuditEvent.objects.get(action="appointment.cancelled")
    assert (event.actor, event.patient, event.office) == (staff, olivia, office)
    with pytest.raises(AppointmentError, match="already cancelled"):
        appointment_cancel(appointment=appointment, actor=staff, request=None)
    with pytest.raises(AppointmentError, match="cancelled; it can no longer be changed"):
        appointment_update(
            appointment=appointment,
            patient=olivia,
            practitioner=practitioner,
            starts_at=local(12, 10),
            duration_minutes=30,
            reason="",
            actor=staff,
            request=None,
        )
    assert AuditEvent.objects.filter(action__startswith="appointment.").count() == 1


# --- selectors -----------------------------------------------------------------------------
def test_office_schedule_returns_the_period_of_one_office_in_one_query(
    office, olivia, practitioner, admin, hilltop_patient, outsider, django_assert_num_queries
):
    inside = [book(olivia, practitioner, local(12, 9)), book(olivia, admin, local(12, 8))]
    book(olivia, practitioner, local(13, 0, 0))  # the next day's midnight: outside
    book(hilltop_patient, outsider, local(12, 9))
    with django_assert_num_queries(1):
        found = office_schedule(office, local(12, 0), local(13, 0))
        assert [a.patient.first_name for a in found] == ["Olivia", "Olivia"]
    assert found == sorted(inside, key=lambda a: a.starts_at)
    assert office_schedule(office, local(12, 0), local(13, 0), practitioner=admin) == [inside[1]]


def test_patient_appointments_are_newest_first_and_say_which_are_upcoming(
    olivia, practitioner, django_assert_num_queries
):
    past = book(olivia, practitioner, local(2, 9))
    upcoming = book(olivia, practitioner, local(20, 9))
    with django_assert_num_queries(1):
        found = patient_appointments(olivia)
        assert [str(a.practitioner) for a in found] == [str(practitioner)] * 2
    assert found == [upcoming, past]
    assert [a.is_upcoming for a in found] == [True, False]


# --- the Schedule page ---------------------------------------------------------------------
def test_week_view_shows_the_office_appointments_in_the_office_time_zone(
    client, office, olivia, practitioner, hilltop_patient, outsider, verified_login
):
    book(olivia, practitioner, local(12, 9, 30), minutes=45, reason="Knee pain")
    # 23:30 on Sunday in Toronto is already Monday in UTC: it belongs to this week's Sunday.
    book(make_patient(office, "Late", "Owl"), practitioner, local(15, 23, 30))
    book(make_patient(office, "Next", "Week"), practitioner, local(16, 0, 30))
    book(hilltop_patient, outsider, local(12, 9, 30))
    verified_login(practitioner)
    response = client.get(SCHEDULE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Mar 9 – 15, 2026" in body
    assert "9:30 AM" in body and "45 min" in body
    assert "Olivia Brown" in body and "Knee pain" in body
    sunday = body.split('id="day-2026-03-15"')[1]
    assert "Late Owl" in sunday and "11:30 PM" in sunday
    assert "Next Week" not in body
    assert "Harold Hill" not in body
    assert 'id="day-2026-03-11"' in body and "Today" in body


def test_day_view_shows_one_day_and_links_to_the_days_around_it(
    client, office, olivia, practitioner, verified_login
):
    book(olivia, practitioner, local(13, 9, 30))
    book(make_patient(office, "Noah", "Green"), practitioner, local(12, 9, 30))
    verified_login(practitioner)
    body = client.get(SCHEDULE, {"view": "day", "date": "2026-03-13"}).content.decode()
    assert "Friday, March 13, 2026" in body
    assert "Olivia Brown" in body and "Noah Green" not in body
    assert "?view=day&amp;date=2026-03-12" in body  # previous day
    assert "?view=day&amp;date=2026-03-14" in body  # next day
    assert "?view=day&amp;date=2026-03-11" in body  # today
    assert "?view=week&amp;date=2026-03-13" in body  # the week around it


def test_week_links_step_a_week_and_keep_the_filter(
    client, office, practitioner, admin, verified_login
):
    verified_login(practitioner)
    body = client.get(
        SCHEDULE, {"view": "week", "date": "2026-03-12", "practitioner": admin.pk}
    ).content.decode()
    assert f"?view=week&amp;date=2026-03-05&amp;practitioner={admin.pk}" in body
    assert f"?view=week&amp;date=2026-03-19&amp;practitioner={admin.pk}" in body


@pytest.mark.parametrize(
    "params",
    [
        {"view": "month", "date": "2026-02-30"},
        {"date": "yesterday"},
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"date": "2026-03-11T10:00"},
        {"practitioner": "dr"},
        {"practitioner": "99999999999999999999999"},
        {"cancelled": "maybe", "view": ["day", "week"]},
    ],
)
def test_nonsense_in_the_query_string_falls_back_to_this_week_without_an_error(
    params, client, office, olivia, practitioner, verified_login
):
    book(olivia, practitioner, local(11, 15))
    verified_login(practitioner)
    response = client.get(SCHEDULE, params)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Olivia Brown" in body
    assert "Mar 9 – 15, 2026" in body or "Wednesday, March 11, 2026" in body


def test_practitioner_filter_shows_only_theirs_and_ignores_anyone_else(
    client, office, olivia, practitioner, admin, staff, outsider, verified_login
):
    book(olivia, practitioner, local(12, 9))
    book(make_patient(office, "Noah", "Green"), admin, local(12, 10))
    verified_login(staff)
    body = client.get(SCHEDULE, {"practitioner": admin.pk}).content.decode()
    assert "Noah Green" in body and "Olivia Brown" not in body
    for ignored in (staff.pk, outsider.pk):  # not a practitioner of this office
        body = client.get(SCHEDULE, {"practitioner": ignored}).content.decode()
        assert "Noah Green" in body and "Olivia Brown" in body
    options = body.split('id="schedule-practitioner"')[1].split("</select>")[0]
    assert str(admin) in options and str(practitioner) in options
    assert str(staff) not in options and str(outsider) not in options


def test_cancelled_appointments_are_hidden_until_asked_for_then_shown_struck_through(
    client, office, olivia, practitioner, verified_login
):
    book(olivia, practitioner, local(12, 9), status="cancelled", cancelled_at=NOW)
    book(make_patient(office, "Noah", "Green"), practitioner, local(12, 10))
    verified_login(practitioner)
    body = client.get(SCHEDULE).content.decode()
    assert "Olivia Brown" not in body and "Noah Green" in body
    assert "1 cancelled not shown" in body
    body = client.get(SCHEDULE, {"cancelled": "show"}).content.decode()
    assert "Olivia Brown" in body
    cancelled = body.split('class="appointment is-cancelled"')[1].split("</li>")[0]
    assert "Olivia Brown" in cancelled and "Cancelled" in cancelled
    assert "Edit" not in cancelled


def test_schedule_week_takes_the_same_number_of_queries_for_2_or_200_appointments(
    client, office, practitioner, admin, verified_login
):
    extra = [MembershipFactory(office=office, role="practitioner").user for _ in range(3)]
    patients = Patient.objects.bulk_create(
        Patient(office=office, first_name=f"P{n}", last_name=f"Patient{n}") for n in range(50)
    )
    people = [practitioner, admin, *extra]
    book(patients[0], practitioner, local(3, 9))
    book(patients[1], admin, local(4, 9))
    Appointment.objects.bulk_create(
        Appointment(
            office=office,
            patient=patients[n % 50],
            practitioner=people[n % 5],
            starts_at=local(9 + n % 7, 7) + timedelta(minutes=15 * (n // 7)),
            duration_minutes=15,
            status="cancelled" if n % 10 == 0 else "booked",
        )
        for n in range(200)
    )
    verified_login(practitioner)
    counts = {}
    for day in ("2026-03-03", "2026-03-10"):
        client.get(SCHEDULE, {"date": day})  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SCHEDULE, {"date": day, "cancelled": "show"})
        assert response.status_code == 200
        counts[day] = len(queries)
    assert response.content.decode().count('<li class="appointment') == 200
    assert counts["2026-03-03"] == counts["2026-03-10"] <= 8


# --- booking through the pages -------------------------------------------------------------
def test_staff_books_an_appointment_and_sees_it_in_that_week(
    client, office, olivia, practitioner, staff, verified_login
):
    verified_login(staff)
    response = client.post(CREATE, form_data(olivia, practitioner))
    assert response.status_code == 302
    assert response["Location"] == f"{SCHEDULE}?view=week&date=2026-03-12"
    appointment = Appointment.objects.get()
    assert appointment.starts_at == local(12, 9, 30)
    assert (appointment.patient, appointment.practitioner, appointment.created_by) == (
        olivia,
        practitioner,
        staff,
    )
    page = client.get(response["Location"]).content.decode()
    assert "Appointment booked: Olivia Brown with" in page
    assert "Thu, Mar 12, 2026, 9:30 AM" in page
    assert AuditEvent.objects.filter(action="appointment.created", patient=olivia).exists()


def test_the_form_preselects_the_patient_from_the_link_and_the_practitioner_booking(
    client, office, olivia, practitioner, hilltop_patient, verified_login
):
    verified_login(practitioner)
    page = client.get(CREATE, {"patient": olivia.pk}).content.decode()
    assert f'<option value="{olivia.pk}" selected>Brown, Olivia (born 1984-03-02)' in page
    assert f'<option value="{practitioner.pk}" selected>' in page
    assert 'value="2026-03-11"' in page  # today, in the office's time zone
    page = client.get(CREATE, {"patient": hilltop_patient.pk}).content.decode()
    assert "Harold" not in page and " selected>Brown" not in page


def test_booking_returns_to_the_page_it_came_from_but_never_to_another_site(
    client, office, olivia, practitioner, verified_login
):
    verified_login(practitioner)
    back = f"/patients/{olivia.pk}/"
    response = client.post(CREATE, {**form_data(olivia, practitioner), "next": back})
    assert response["Location"] == back
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(
            CREATE,
            {**form_data(olivia, practitioner, date="2026-03-13"), "next": evil},
        )
        assert response["Location"].startswith(SCHEDULE)
        Appointment.objects.all().delete()


def bad_booking(client, data, *, expect: str):
    response = client.post(CREATE, data)
    assert response.status_code == 400
    assert expect in response.content.decode()
    return response


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"duration_minutes": "0"}, "must end after it starts"),
        ({"duration_minutes": "-30"}, "must end after it starts"),
        ({"duration_minutes": "481"}, "at most 480 minutes"),
        ({"duration_minutes": "half an hour"}, "number of minutes"),
        ({"date": "2026-02-30"}, "Enter a date"),
        ({"date": "0001-01-01"}, "between 1900 and 2199"),
        ({"start_time": "25:00"}, "Enter a time"),
        ({"start_time": ""}, "Enter the start time"),
        ({"patient": ""}, "Choose the patient"),
        ({"patient": "99999999"}, "Choose a patient of this office"),
        ({"patient": "abc"}, "Choose a patient of this office"),
        ({"practitioner": "99999999"}, "Choose one of this office"),
        ({"reason": "x" * 201}, "200 characters or fewer"),
        # The clocks went forward on March 8, 2026: 2:30 AM did not happen in Toronto.
        ({"date": "2026-03-08", "start_time": "02:30"}, "does not exist on Mar 8, 2026"),
    ],
)
def test_bad_input_gets_a_clear_message_and_stores_nothing(
    changes, message, client, office, olivia, practitioner, verified_login
):
    verified_login(practitioner)
    bad_booking(client, form_data(olivia, practitioner, **changes), expect=message)
    assert not Appointment.objects.exists()
    assert not AuditEvent.objects.filter(action="appointment.created").exists()


def test_another_offices_patient_or_practitioner_is_a_form_error_and_stores_nothing(
    client, office, olivia, practitioner, staff, hilltop_patient, outsider, verified_login
):
    verified_login(staff)
    bad_booking(
        client,
        form_data(hilltop_patient, practitioner),
        expect="Choose a patient of this office",
    )
    bad_booking(client, form_data(olivia, outsider), expect="Choose one of this office")
    bad_booking(client, form_data(olivia, staff), expect="Choose one of this office")
    assert not Appointment.objects.exists()


def test_an_overlapping_booking_is_refused_with_the_clash_named(
    client, office, olivia, practitioner, verified_login
):
    book(make_patient(office, "Noah", "Green"), practitioner, local(12, 9), minutes=60)
    verified_login(practitioner)
    response = bad_booking(
        client,
        form_data(olivia, practitioner),
        expect="already has an appointment from 9:00 AM to 10:00 AM on Thu, Mar 12",
    )
    assert "Noah Green" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_a_multi_line_reason_is_kept_on_one_line(
    client, office, olivia, practitioner, verified_login
):
    verified_login(practitioner)
    client.post(CREATE, form_data(olivia, practitioner, reason="Cough\r\n\r\n  since   Monday"))
    assert Appointment.objects.get().reason == "Cough since Monday"


# --- editing and cancelling through the pages ----------------------------------------------
def test_edit_form_shows_the_appointment_in_office_time_and_saves_changes(
    client, office, olivia, practitioner, admin, staff, verified_login
):
    appointment = book(olivia, practitioner, local(12, 9, 30), reason="Flu shot")
    verified_login(staff)
    page = client.get(edit_url(appointment)).content.decode()
    assert 'value="2026-03-12"' in page and 'value="09:30"' in page
    assert 'value="Flu shot"' in page
    response = client.post(
        edit_url(appointment),
        form_data(olivia, admin, start_time="14:00", duration_minutes="45"),
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.practitioner, appointment.starts_at) == (admin, local(12, 14))
    assert appointment.duration_minutes == 45
    assert AuditEvent.objects.get(action="appointment.updated").actor == staff


def test_editing_into_an_overlap_is_refused_and_changes_nothing(
    client, office, olivia, practitioner, verified_login
):
    appointment = book(olivia, practitioner, local(12, 14))
    book(make_patient(office, "Noah", "Green"), practitioner, local(12, 9, 30))
    verified_login(practitioner)
    response = client.post(edit_url(appointment), form_data(olivia, practitioner))
    assert response.status_code == 400
    assert "already has an appointment" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == local(12, 14)


def test_a_cancelled_appointment_cannot_be_edited(
    client, office, olivia, practitioner, verified_login
):
    appointment = book(olivia, practitioner, local(12, 14), status="cancelled")
    verified_login(practitioner)
    response = client.post(edit_url(appointment), form_data(olivia, practitioner), follow=True)
    assert "can no longer be changed" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.starts_at == local(12, 14)


def test_cancel_asks_first_then_keeps_the_row_marked_cancelled(
    client, office, olivia, practitioner, staff, verified_login
):
    appointment = book(olivia, practitioner, local(12, 14), reason="Flu shot")
    verified_login(staff)
    page = client.get(cancel_url(appointment)).content.decode()
    assert "Cancel this appointment?" in page and "Olivia Brown" in page and "2:00 PM" in page
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    response = client.post(cancel_url(appointment), follow=True)
    assert "Appointment cancelled: Olivia Brown" in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by) == ("cancelled", staff)
    response = client.post(cancel_url(appointment), follow=True)
    assert "already cancelled" in response.content.decode()
    assert AuditEvent.objects.filter(action="appointment.cancelled").count() == 1


def test_another_offices_appointment_answers_404_and_stays_as_it_was(
    client, office, hilltop_patient, outsider, practitioner, olivia, verified_login
):
    theirs = book(hilltop_patient, outsider, local(12, 9))
    verified_login(practitioner)
    assert client.get(edit_url(theirs)).status_code == 404
    assert client.post(edit_url(theirs), form_data(olivia, practitioner)).status_code == 404
    assert client.get(cancel_url(theirs)).status_code == 404
    assert client.post(cancel_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.patient, theirs.starts_at) == (
        "booked",
        hilltop_patient,
        local(12, 9),
    )


@pytest.mark.parametrize("persona", ["removed_member", "patient"])
def test_people_without_the_office_cannot_book_edit_or_cancel(
    persona, request, client, office, olivia, practitioner, verified_login
):
    appointment = book(olivia, practitioner, local(12, 14))
    verified_login(request.getfixturevalue(persona))
    assert client.post(CREATE, form_data(olivia, practitioner)).status_code == 403
    assert client.post(edit_url(appointment), form_data(olivia, practitioner)).status_code == 403
    assert client.post(cancel_url(appointment)).status_code == 403
    assert Appointment.objects.get().status == "booked"
    assert Appointment.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, office, olivia, practitioner):
    appointment = book(olivia, practitioner, local(12, 14))
    for url in (SCHEDULE, CREATE, edit_url(appointment), cancel_url(appointment)):
        assert client.get(url).status_code == 302
    assert client.post(cancel_url(appointment)).status_code == 302
    assert Appointment.objects.get().status == "booked"


PERSONAS = ["admin", "practitioner", "staff", "removed_member", "outsider", "patient", "anonymous"]
# The rows these pages need in tests/offices/test_permission_matrix.py (GET, PERSONAS order).
EXPECTED = {
    "records:schedule": [200, 200, 200, 403, 200, 403, 302],
    "records:appointment_create": [200, 200, 200, 403, 200, 403, 302],
    "records:appointment_edit": [200, 200, 200, 403, 404, 403, 302],
    "records:appointment_cancel": [200, 200, 200, 403, 404, 403, 302],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schedule_pages_answer_each_persona_as_the_permission_matrix_says(
    name, request, office, olivia, practitioner, verified_login
):
    kwargs = {}
    if name in ("records:appointment_edit", "records:appointment_cancel"):
        kwargs = {"appointment_id": book(olivia, practitioner, local(12, 14)).pk}
    url = reverse(name, kwargs=kwargs)
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        client = Client()
        if persona != "anonymous":
            verified_login(request.getfixturevalue(persona), client=client)
        status = client.get(url).status_code
        assert status == expected, f"{name} as {persona}: {status}, expected {expected}"


# --- the patient page's section ------------------------------------------------------------
def test_patient_appointments_section_lists_the_history_with_actions_for_schedulers(
    office, olivia, practitioner, staff
):
    past = book(olivia, practitioner, local(2, 9), reason="Flu shot")
    upcoming = book(olivia, practitioner, local(20, 15, 45), minutes=45)
    cancelled = book(olivia, practitioner, local(21, 9), status="cancelled")
    request = RequestFactory().get(f"/patients/{olivia.pk}/")
    request.user = staff
    context = {"patient": olivia, "appointments": patient_appointments(olivia)}
    with timezone.override(TORONTO):
        html = render_to_string(
            "records/_patient_appointments.html",
            {**context, "can_manage_schedule": True},
            request=request,
        )
        readonly = render_to_string(
            "records/_patient_appointments.html",
            {**context, "can_manage_schedule": False},
            request=request,
        )
    assert 'id="appointments-h"' in html
    assert html.index("Sat, Mar 21, 2026") < html.index("Fri, Mar 20, 2026, 3:45 PM")
    assert html.index("Fri, Mar 20, 2026") < html.index("Mon, Mar 2, 2026")
    assert f"45 min with {practitioner}" in html and "Flu shot" in html
    assert ">Upcoming<" in html and ">Past<" in html and ">Cancelled<" in html
    assert f"?patient={olivia.pk}&amp;next=/patients/{olivia.pk}/" in html
    assert edit_url(upcoming) in html and cancel_url(upcoming) in html
    assert edit_url(past) in html and cancel_url(past) not in html
    assert edit_url(cancelled) not in html
    assert "Book appointment" not in readonly and "/edit/" not in readonly


def test_the_patient_page_shows_the_appointments_and_books_back_to_it(
    client, office, olivia, practitioner, verified_login
):
    book(olivia, practitioner, local(20, 15, 45), reason="Flu shot")
    verified_login(practitioner)
    patient_page = reverse("records:patient", args=[olivia.pk])
    body = client.get(patient_page).content.decode()
    assert "Fri, Mar 20, 2026, 3:45 PM" in body and "Flu shot" in body
    booking = f"{CREATE}?patient={olivia.pk}&amp;next={patient_page}"
    assert booking in body
    response = client.post(
        CREATE, {**form_data(olivia, practitioner), "next": patient_page}, follow=True
    )
    assert response.redirect_chain[-1][0] == patient_page
    assert "Thu, Mar 12, 2026, 9:30 AM" in response.content.decode()


# --- demo data -----------------------------------------------------------------------------
def test_demo_week_fills_monday_to_friday_office_hours_without_overlaps_once(
    office, practitioner, admin
):
    patients = [make_patient(office, f"P{n}", "Demo") for n in range(20)]
    created = seed_schedule(office, patients, [practitioner, admin])
    assert len(created) > 30
    for appointment in Appointment.objects.all():
        start = timezone.localtime(appointment.starts_at, TORONTO)
        end = timezone.localtime(appointment.ends_at, TORONTO)
        assert date(2026, 3, 9) <= start.date() <= date(2026, 3, 13)
        assert (start.hour, start.minute) >= (8, 0) and (end.hour, end.minute) <= (17, 0)
        assert not (start.hour == 12 or (start.hour < 12 and (end.hour, end.minute) > (12, 0)))
    for person in (practitioner, admin):
        mine = list(Appointment.objects.filter(practitioner=person).order_by("starts_at"))
        assert all(a.ends_at <= b.starts_at for a, b in pairwise(mine))
    assert {a.practitioner for a in created} == {practitioner, admin}
    assert seed_schedule(office, patients, [practitioner, admin]) == []
    assert Appointment.objects.count() == len(created)
