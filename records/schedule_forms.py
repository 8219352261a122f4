"""Schedule input: the page's query string and the appointment form. Validation only; the
booking rules that need the database state (overlaps, membership) are the services'."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateformat import time_format

from offices.models import Office
from outsmart.accounts.models import User
from outsmart.text import single_line
from records.models import Appointment, Patient
from records.selectors.schedule import office_practitioners
from records.services.schedule import MAX_DURATION, MIN_DURATION, REASON_MAX_LENGTH

# Dates outside this range are refused: the schedule has nothing there, and the extremes of
# Python's calendar overflow once moved to UTC.
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

VIEWS = ("day", "week")


@dataclass(frozen=True)
class ScheduleQuery:
    """What the Schedule page shows. Built from any query string: a value that makes no sense
    falls back to its default instead of an error page (links get mangled, dates typed)."""

    view: str
    day: date
    practitioner_id: int | None
    show_cancelled: bool

    @property
    def first_day(self) -> date:
        return self.day - timedelta(days=self.day.weekday()) if self.view == "week" else self.day

    @property
    def days(self) -> int:
        return 7 if self.view == "week" else 1

    def shifted(self, days: int) -> date:
        return min(max(self.day + timedelta(days=days), EARLIEST), LATEST)

    def params(self, **changes: Any) -> str:
        """This query's string with some values changed, for the page's links."""
        values = {
            "view": self.view,
            "date": self.day.isoformat(),
            "practitioner": self.practitioner_id,
            "cancelled": "show" if self.show_cancelled else None,
        }
        values.update(changes)
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if value not in (None, ""):
                query[key] = str(value)
        return query.urlencode()


def parse_day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def schedule_query(params: QueryDict, *, today: date, practitioner_ids: set[int]) -> ScheduleQuery:
    view = params.get("view")
    try:
        practitioner_id = int(params.get("practitioner", ""))
    except ValueError:
        practitioner_id = None
    return ScheduleQuery(
        view=view if view in VIEWS else "week",
        day=parse_day(params.get("date")) or today,
        practitioner_id=practitioner_id if practitioner_id in practitioner_ids else None,
        show_cancelled=params.get("cancelled") == "show",
    )


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Patient) -> str:
        born = f" (born {obj.date_of_birth:%Y-%m-%d})" if obj.date_of_birth else ""
        return f"{obj.last_name}, {obj.first_name}{born}"


class AppointmentForm(forms.Form):
    """Book or change an appointment. Times are entered in the office's time zone."""

    patient = PatientChoiceField(
        label="Patient",
        queryset=Patient.objects.none(),
        empty_label="Choose a patient",
        error_messages={
            "required": "Choose the patient.",
            "invalid_choice": "Choose a patient of this office.",
        },
    )
    practitioner = forms.ModelChoiceField(
        label="Practitioner",
        queryset=User.objects.none(),
        empty_label="Choose a practitioner",
        error_messages={
            "required": "Choose the practitioner.",
            "invalid_choice": "Choose one of this office's practitioners.",
        },
    )
    date = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the date.", "invalid": "Enter a date, e.g. 2026-03-10."},
    )
    start_time = forms.TimeField(
        label="Start time",
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        error_messages={
            "required": "Enter the start time.",
            "invalid": "Enter a time, e.g. 09:30.",
        },
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        widget=forms.NumberInput(attrs={"min": MIN_DURATION, "max": MAX_DURATION, "step": 5}),
        error_messages={
            "required": "Enter how long the appointment lasts, in minutes.",
            "invalid": "Enter the duration as a number of minutes, e.g. 30.",
        },
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text="A few words, e.g. “Follow-up: blood pressure”. Shown on the schedule.",
        error_messages={
            "max_length": f"Keep the reason to {REASON_MAX_LENGTH} characters or fewer."
        },
    )

    def __init__(
        self,
        data=None,
        *,
        office: Office,
        appointment: Appointment | None = None,
        initial: dict | None = None,
    ):
        self.office = office
        self.tz = zoneinfo.ZoneInfo(office.time_zone)
        if appointment is not None:
            local = timezone.localtime(appointment.starts_at, self.tz)
            initial = {
                "patient": appointment.patient_id,
                "practitioner": appointment.practitioner_id,
                "date": local.date(),
                "start_time": local.time(),
                "duration_minutes": appointment.duration_minutes,
                "reason": appointment.reason,
            }
        super().__init__(data, initial=initial)
        # Checking a submitted id is one indexed lookup within the office, whatever its size.
        self.fields["patient"].queryset = Patient.objects.filter(office=office).only(
            "id", "first_name", "last_name", "date_of_birth"
        )
        practitioners = office_practitioners(office)
        if appointment is not None:
            # Someone who has left the office stays on the appointments they already had.
            practitioners = User.objects.filter(
                pk__in=[*practitioners.values_list("pk", flat=True), appointment.practitioner_id]
            ).order_by("last_name", "first_name", "email")
        self.fields["practitioner"].queryset = practitioners

    def clean_date(self) -> date:
        day = self.cleaned_data["date"]
        if not EARLIEST <= day <= LATEST:
            raise forms.ValidationError("Enter a date between 1900 and 2199.")
        return day

    def clean_duration_minutes(self) -> int:
        minutes = self.cleaned_data["duration_minutes"]
        if minutes < MIN_DURATION:
            raise forms.ValidationError(
                "An appointment must end after it starts: enter a duration of at least "
                f"{MIN_DURATION} minutes."
            )
        if minutes > MAX_DURATION:
            raise forms.ValidationError(
                f"An appointment can last at most {MAX_DURATION} minutes (8 hours)."
            )
        return minutes

    def clean_reason(self) -> str:
        # One line: line breaks, control characters and runs of spaces become single spaces.
        return single_line(self.cleaned_data["reason"])

    def clean(self) -> dict:
        cleaned = super().clean()
        day, start = cleaned.get("date"), cleaned.get("start_time")
        if day is not None and start is not None:
            start = start.replace(second=0, microsecond=0)
            starts_at = datetime.combine(day, start, tzinfo=self.tz)
            # A wall-clock time skipped when the clocks go forward does not survive the round
            # trip through UTC.
            round_trip = starts_at.astimezone(UTC).astimezone(self.tz)
            if round_trip.replace(tzinfo=None) != datetime.combine(day, start):
                self.add_error(
                    "start_time",
                    f"{time_format(start, 'g:i A')} does not exist on {date_format(day, 'M j, Y')} "
                    f"in {self.office.time_zone} (the clocks change). Choose another time.",
                )
            else:
                cleaned["starts_at"] = starts_at
        return cleaned


def initial_from_query(
    params: QueryDict, *, office: Office, user: User, today: date
) -> dict[str, Any]:
    """Starting values for a new appointment: `?patient=`, `?practitioner=`, `?date=` from the
    link that led here when they are the office's, else the person booking if they are one of
    its practitioners, and today."""
    initial: dict[str, Any] = {"date": parse_day(params.get("date")) or today}
    initial["duration_minutes"] = 30
    try:
        patient_id = int(params.get("patient", ""))
    except ValueError:
        patient_id = None
    if patient_id and Patient.objects.filter(office=office, pk=patient_id).exists():
        initial["patient"] = patient_id
    practitioner_ids = set(office_practitioners(office).values_list("pk", flat=True))
    try:
        practitioner_id = int(params.get("practitioner", ""))
    except ValueError:
        practitioner_id = None
    if practitioner_id in practitioner_ids:
        initial["practitioner"] = practitioner_id
    elif user.pk in practitioner_ids:
        initial["practitioner"] = user.pk
    return initial
