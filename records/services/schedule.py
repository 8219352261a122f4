"""Schedule business actions: book, change and cancel appointments."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as date_format

from offices.models import Membership, Office, Role
from outsmart.accounts.models import User
from outsmart.audit.services import audit_record
from outsmart.text import single_line
from records.models import Appointment, Patient

MIN_DURATION = 5
MAX_DURATION = 480
REASON_MAX_LENGTH = 200


class AppointmentError(ValueError):
    """A booking the rules refuse. The message is meant for the person who tried; `field` names
    the form field it is about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def _lock_practitioner(office: Office, practitioner: User) -> Membership:
    # Locking the practitioner's membership row serialises bookings for that practitioner, so
    # two people booking the same slot at the same moment cannot both pass the overlap check.
    membership = (
        Membership.objects.select_for_update()
        .filter(office=office, user=practitioner, role=Role.PRACTITIONER)
        .active()
        .first()
    )
    if membership is None:
        raise AppointmentError(
            f"{practitioner} is not a practitioner of {office}.", field="practitioner"
        )
    return membership


def _check_slot(
    *,
    office: Office,
    practitioner: User,
    starts_at: datetime,
    duration_minutes: int,
    exclude: Appointment | None = None,
) -> None:
    if timezone.is_naive(starts_at):
        raise ValueError("starts_at must be an aware datetime")
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise AppointmentError(
            "An appointment must end after it starts and last between "
            f"{MIN_DURATION} and {MAX_DURATION} minutes (8 hours).",
            field="duration_minutes",
        )
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    # No appointment lasts longer than MAX_DURATION, so only those starting in this window
    # can overlap; the end of each is checked here rather than in SQL.
    candidates = Appointment.objects.filter(
        office=office,
        practitioner=practitioner,
        status=Appointment.Status.BOOKED,
        starts_at__gt=starts_at - timedelta(minutes=MAX_DURATION),
        starts_at__lt=ends_at,
    ).select_related("patient")
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude.pk)
    clash = next((a for a in candidates.order_by("starts_at") if a.ends_at > starts_at), None)
    if clash is not None:
        tz = zoneinfo.ZoneInfo(office.time_zone)
        start = timezone.localtime(clash.starts_at, tz)
        end = timezone.localtime(clash.ends_at, tz)
        raise AppointmentError(
            f"{practitioner} already has an appointment from {date_format(start, 'g:i A')} to "
            f"{date_format(end, 'g:i A')} on {date_format(start, 'D, M j')} ({clash.patient}). "
            "Choose another time or practitioner.",
            field="start_time",
        )


def _check_patient(office: Office, patient: Patient) -> None:
    if patient.office_id != office.pk:
        raise AppointmentError("Choose a patient of this office.", field="patient")


def _clean_reason(reason: str) -> str:
    reason = single_line(reason)
    if len(reason) > REASON_MAX_LENGTH:
        raise AppointmentError(
            f"Keep the reason to {REASON_MAX_LENGTH} characters or fewer.", field="reason"
        )
    return reason


@transaction.atomic
def appointment_create(
    *,
    office: Office,
    patient: Patient,
    practitioner: User,
    starts_at: datetime,
    duration_minutes: int,
    reason: str,
    actor: User,
    request: HttpRequest | None,
) -> Appointment:
    """Book `patient` with `practitioner` of `office`. Refused when the patient is not the
    office's, the practitioner is not one of its active practitioners, the duration is out of
    range, or the practitioner already has a booked appointment at that time."""
    _check_patient(office, patient)
    _lock_practitioner(office, practitioner)
    reason = _clean_reason(reason)
    _check_slot(
        office=office,
        practitioner=practitioner,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
    )
    appointment = Appointment.objects.create(
        office=office,
        patient=patient,
        practitioner=practitioner,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        reason=reason,
        created_by=actor,
    )
    audit_record(
        action="appointment.created",
        actor=actor,
        office=office,
        patient=patient,
        target=appointment,
        request=request,
        # The reason is clinical content: never in the audit detail.
        detail={
            "practitioner_id": practitioner.pk,
            "starts_at": starts_at.isoformat(),
            "duration_minutes": duration_minutes,
        },
    )
    return appointment


@transaction.atomic
def appointment_update(
    *,
    appointment: Appointment,
    patient: Patient,
    practitioner: User,
    starts_at: datetime,
    duration_minutes: int,
    reason: str,
    actor: User,
    request: HttpRequest | None,
) -> Appointment:
    """Change a booked appointment. The same rules as booking hold; a practitioner who has left
    the office may stay on an appointment they already had, but nobody can be moved to them."""
    appointment = (
        Appointment.objects.select_for_update().select_related("office").get(pk=appointment.pk)
    )
    office = appointment.office
    if appointment.status != Appointment.Status.BOOKED:
        raise AppointmentError("This appointment was cancelled; it can no longer be changed.")
    _check_patient(office, patient)
    if practitioner.pk != appointment.practitioner_id:
        _lock_practitioner(office, practitioner)
    else:
        # Still serialise with bookings for the same practitioner (the row may be gone if they
        # left the office; their existing appointment stays theirs).
        Membership.objects.select_for_update().filter(
            office=office, user=practitioner, removed_at__isnull=True
        ).first()
    reason = _clean_reason(reason)
    _check_slot(
        office=office,
        practitioner=practitioner,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        exclude=appointment,
    )
    new = {
        "patient_id": patient.pk,
        "practitioner_id": practitioner.pk,
        "starts_at": starts_at,
        "duration_minutes": duration_minutes,
        "reason": reason,
    }
    changed = [name for name, value in new.items() if getattr(appointment, name) != value]
    if not changed:
        return appointment
    previous_patient_id = appointment.patient_id
    for name, value in new.items():
        setattr(appointment, name, value)
    appointment.save(update_fields=list(new))
    detail = {"changed": [name.removesuffix("_id") for name in changed]}
    if "patient_id" in changed:
        detail["previous_patient_id"] = previous_patient_id
    audit_record(
        action="appointment.updated",
        actor=actor,
        office=office,
        patient=patient,
        target=appointment,
        request=request,
        detail=detail,
    )
    return appointment


@transaction.atomic
def appointment_cancel(
    *, appointment: Appointment, actor: User, request: HttpRequest | None
) -> Appointment:
    """Cancel a booked appointment. The row stays (the patient's history shows it cancelled),
    with who cancelled it and when."""
    appointment = (
        Appointment.objects.select_for_update()
        .select_related("office", "patient")
        .get(pk=appointment.pk)
    )
    if appointment.status == Appointment.Status.CANCELLED:
        raise AppointmentError("This appointment was already cancelled.")
    appointment.status = Appointment.Status.CANCELLED
    appointment.cancelled_at = timezone.now()
    appointment.cancelled_by = actor
    appointment.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    audit_record(
        action="appointment.cancelled",
        actor=actor,
        office=appointment.office,
        patient=appointment.patient,
        target=appointment,
        request=request,
        detail={"starts_at": appointment.starts_at.isoformat()},
    )
    return appointment
