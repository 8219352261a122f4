"""Schedule reads: the office's appointments over a period, a patient's appointment history,
and who can be booked. Each in one query, whatever the number of appointments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from django.db.models import QuerySet
from django.utils import timezone

from offices.models import Membership, Office, Role
from outsmart.accounts.models import User
from records.models import Appointment, Patient


def office_schedule(
    office: Office, start: datetime, end: datetime, practitioner: User | None = None
) -> list[Appointment]:
    """The office's appointments starting in [start, end), cancelled ones included, in time
    order, with their patient and practitioner. One query."""
    appointments = Appointment.objects.filter(
        office=office, starts_at__gte=start, starts_at__lt=end
    ).select_related("patient", "practitioner")
    if practitioner is not None:
        appointments = appointments.filter(practitioner=practitioner)
    return list(appointments.order_by("starts_at", "id"))


def patient_appointments(patient: Patient) -> list[Appointment]:
    """A patient's appointment history, newest first, with the practitioners. One query.
    Each carries `is_upcoming` (it starts in the future)."""
    appointments = list(
        Appointment.objects.filter(patient=patient, office_id=patient.office_id)
        .select_related("practitioner")
        .order_by("-starts_at", "-id")
    )
    now = timezone.now()
    for appointment in appointments:
        appointment.is_upcoming = appointment.starts_at > now
    return appointments


def office_practitioners(office: Office) -> QuerySet[User]:
    """The office's active practitioners (the people appointments can be booked with), by name.
    One query when evaluated."""
    return User.objects.filter(
        pk__in=Membership.objects.active()
        .filter(office=office, role=Role.PRACTITIONER)
        .values("user_id")
    ).order_by("last_name", "first_name", "email")


@dataclass
class ScheduleDay:
    day: date
    is_today: bool
    appointments: list[Appointment] = field(default_factory=list)
    day_query: str = ""  # the query string of this day's own page, set by the view


def schedule_days(
    appointments: list[Appointment], first_day: date, days: int, tz: tzinfo
) -> list[ScheduleDay]:
    """Put appointments (already fetched) into the days they start on, in the office's time
    zone; days without appointments are kept, so a week always has its seven columns."""
    today = timezone.localdate(timezone=tz)
    by_day = {
        first_day + timedelta(days=n): ScheduleDay(
            first_day + timedelta(days=n), first_day + timedelta(days=n) == today
        )
        for n in range(days)
    }
    for appointment in appointments:
        day = by_day.get(timezone.localtime(appointment.starts_at, tz).date())
        if day is not None:
            day.appointments.append(appointment)
    return list(by_day.values())
