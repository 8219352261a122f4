"""Demo appointments: a realistic working week (Monday to Friday, 8:00 to 17:00 office time)
spread over the office's practitioners. Only for `seed_demo`."""

from __future__ import annotations

import random
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from offices.models import Office
from outsmart.accounts.models import User
from records.models import Appointment, Patient

# (reason, minutes): what a family clinic's week is made of.
VISITS = [
    ("Annual physical", 45),
    ("Follow-up: blood pressure", 15),
    ("Follow-up: blood test results", 15),
    ("Flu shot", 10),
    ("Prescription renewal", 15),
    ("Persistent cough", 20),
    ("Lower back pain", 30),
    ("Diabetes check-in", 30),
    ("Well-baby visit", 30),
    ("Skin rash", 20),
    ("Knee pain after running", 30),
    ("Travel vaccinations", 20),
    ("Pre-operative assessment", 45),
    ("Migraine follow-up", 20),
    ("Mental health check-in", 45),
    ("Allergy consultation", 30),
    ("", 15),
]
DAY_START = time(8, 0)
LUNCH = (time(12, 0), time(13, 0))
DAY_END = time(17, 0)


@transaction.atomic
def seed_schedule(
    office: Office, patients: Sequence[Patient], practitioners: Sequence[User]
) -> list[Appointment]:
    """Book this week's appointments (Monday to Friday) for the office, unless it already has
    appointments (then nothing is done, so running the seed twice changes nothing)."""
    if not patients or not practitioners or office.appointments.exists():
        return []
    tz = zoneinfo.ZoneInfo(office.time_zone)
    today = timezone.localdate(timezone=tz)
    monday = today - timedelta(days=today.weekday())
    rng = random.Random(f"{office.pk}-{monday}")  # noqa: S311 - demo data, not security
    appointments = []
    seen: dict[date, set[int]] = defaultdict(set)
    for practitioner in practitioners:
        # Most practitioners have a day a week out of the clinic.
        day_off = rng.choice([None, 0, 1, 2, 3, 4])
        for offset in range(5):
            if offset == day_off:
                continue
            day = monday + timedelta(days=offset)
            lunch_start = datetime.combine(day, LUNCH[0], tzinfo=tz)
            lunch_end = datetime.combine(day, LUNCH[1], tzinfo=tz)
            end_of_day = datetime.combine(day, DAY_END, tzinfo=tz)
            slot = datetime.combine(day, DAY_START, tzinfo=tz)
            slot += timedelta(minutes=rng.choice([0, 0, 15, 30, 60]))
            while True:
                reason, minutes = rng.choice(VISITS)
                ends = slot + timedelta(minutes=minutes)
                if ends > end_of_day:
                    break
                if slot < lunch_end and ends > lunch_start:
                    slot = lunch_end
                    continue
                # One visit a day per patient, while there are patients left to choose from.
                free = [p for p in patients if p.pk not in seen[day]] or list(patients)
                patient = rng.choice(free)
                seen[day].add(patient.pk)
                appointment = Appointment(
                    office=office,
                    patient=patient,
                    practitioner=practitioner,
                    starts_at=slot,
                    duration_minutes=minutes,
                    reason=reason,
                    created_by=practitioner,
                )
                # A few cancellations, as every real week has.
                if rng.random() < 0.06:
                    appointment.status = Appointment.Status.CANCELLED
                    appointment.cancelled_at = timezone.now()
                    appointment.cancelled_by = practitioner
                appointments.append(appointment)
                # Gaps between visits: open slots, paperwork, walk-ins.
                slot = ends + timedelta(minutes=rng.choice([0, 0, 5, 10, 15, 30, 45, 60]))
    return Appointment.objects.bulk_create(appointments)
