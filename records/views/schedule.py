"""The Schedule: the office's appointments by day and by week; book, change and cancel."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_http_methods

from offices.access import office_view
from offices.permissions import Perm
from outsmart.http import safe_next_url
from records.models import Appointment
from records.schedule_forms import AppointmentForm, initial_from_query, schedule_query
from records.selectors.schedule import office_practitioners, office_schedule, schedule_days
from records.services import schedule as services


def _schedule_url(**params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items() if value)
    return reverse("records:schedule") + (f"?{query}" if query else "")


def _period_title(first, days: int) -> str:
    if days == 1:
        return date_format(first, "l, F j, Y")
    last = first + timedelta(days=days - 1)
    if first.year != last.year:
        return f"{date_format(first, 'M j, Y')} – {date_format(last, 'M j, Y')}"
    if first.month != last.month:
        return f"{date_format(first, 'M j')} – {date_format(last, 'M j, Y')}"
    return f"{date_format(first, 'M j')} – {date_format(last, 'j, Y')}"


@office_view(Perm.VIEW_SCHEDULE)
def schedule(request: HttpRequest) -> HttpResponse:
    office = request.office
    tz = timezone.get_current_timezone()  # the office's, activated by office_view
    today = timezone.localdate()
    practitioners = list(office_practitioners(office))
    query = schedule_query(request.GET, today=today, practitioner_ids={p.pk for p in practitioners})
    practitioner = next((p for p in practitioners if p.pk == query.practitioner_id), None)
    first = query.first_day
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(first + timedelta(days=query.days), time.min, tzinfo=tz)
    appointments = office_schedule(office, start, end, practitioner=practitioner)
    cancelled = sum(a.status == Appointment.Status.CANCELLED for a in appointments)
    if not query.show_cancelled:
        appointments = [a for a in appointments if a.status == Appointment.Status.BOOKED]
    days = schedule_days(appointments, first, query.days, tz)
    for day in days:
        day.day_query = query.params(view="day", date=day.day.isoformat())
    step = query.days
    context = {
        "query": query,
        "days": days,
        # Empty weekends get narrow columns, so the working days have room.
        "quiet_weekend": query.days == 7 and not (days[5].appointments or days[6].appointments),
        "title": _period_title(first, query.days),
        "practitioners": practitioners,
        "practitioner": practitioner,
        "booked_count": sum(a.status == Appointment.Status.BOOKED for a in appointments),
        "cancelled_count": cancelled,
        "previous_query": query.params(date=query.shifted(-step).isoformat()),
        "next_query": query.params(date=query.shifted(step).isoformat()),
        "today_query": query.params(date=today.isoformat()),
        "day_query": query.params(view="day"),
        "week_query": query.params(view="week"),
        "cancelled_query": query.params(cancelled=None if query.show_cancelled else "show"),
        "book_query": query.params(view=None, cancelled=None),
        "showing_today": first <= today < first + timedelta(days=query.days),
        "can_manage_schedule": Perm.MANAGE_SCHEDULE in request.office_perms,
        "return_to": request.get_full_path(),
    }
    return render(request, "records/schedule.html", context)


def _office_appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    # Another office's appointment id answers 404, like one that does not exist.
    return get_object_or_404(
        Appointment.objects.select_related("patient", "practitioner", "created_by"),
        pk=appointment_id,
        office=request.office,
    )


def _week_of(appointment: Appointment) -> str:
    return _schedule_url(view="week", date=timezone.localdate(appointment.starts_at).isoformat())


def _when(appointment: Appointment) -> str:
    return date_format(timezone.localtime(appointment.starts_at), "D, M j, Y, g:i A")


def _booking(form: AppointmentForm) -> dict:
    data = form.cleaned_data
    return {
        "patient": data["patient"],
        "practitioner": data["practitioner"],
        "starts_at": data["starts_at"],
        "duration_minutes": data["duration_minutes"],
        "reason": data["reason"],
    }


@office_view(Perm.MANAGE_SCHEDULE)
@require_http_methods(["GET", "POST"])
def appointment_create(request: HttpRequest) -> HttpResponse:
    office = request.office
    if request.method == "POST":
        form = AppointmentForm(request.POST, office=office)
        if form.is_valid():
            try:
                appointment = services.appointment_create(
                    office=office, **_booking(form), actor=request.user, request=request
                )
            except services.AppointmentError as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(
                    request,
                    f"Appointment booked: {appointment.patient} with {appointment.practitioner}, "
                    f"{_when(appointment)}.",
                )
                return redirect(safe_next_url(request, _week_of(appointment)))
    else:
        initial = initial_from_query(
            request.GET, office=office, user=request.user, today=timezone.localdate()
        )
        form = AppointmentForm(office=office, initial=initial)
    return render(
        request,
        "records/appointment_form.html",
        {"form": form, "appointment": None, "next": safe_next_url(request, "")},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.MANAGE_SCHEDULE)
@require_http_methods(["GET", "POST"])
def appointment_edit(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _office_appointment(request, appointment_id)
    if appointment.status == Appointment.Status.CANCELLED:
        messages.error(request, "This appointment was cancelled; it can no longer be changed.")
        return redirect(safe_next_url(request, _week_of(appointment)))
    data = request.POST if request.method == "POST" else None
    form = AppointmentForm(data, office=request.office, appointment=appointment)
    if request.method == "POST" and form.is_valid():
        try:
            appointment = services.appointment_update(
                appointment=appointment, **_booking(form), actor=request.user, request=request
            )
        except services.AppointmentError as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(
                request,
                f"Appointment saved: {appointment.patient} with {appointment.practitioner}, "
                f"{_when(appointment)}.",
            )
            return redirect(safe_next_url(request, _week_of(appointment)))
    return render(
        request,
        "records/appointment_form.html",
        {"form": form, "appointment": appointment, "next": safe_next_url(request, "")},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.MANAGE_SCHEDULE)
@require_http_methods(["GET", "POST"])
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = _office_appointment(request, appointment_id)
    after = safe_next_url(request, _week_of(appointment))
    if request.method == "POST":
        try:
            services.appointment_cancel(
                appointment=appointment, actor=request.user, request=request
            )
        except services.AppointmentError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, f"Appointment cancelled: {appointment.patient}, {_when(appointment)}."
            )
        return redirect(after)
    if appointment.status == Appointment.Status.CANCELLED:
        messages.error(request, "This appointment was already cancelled.")
        return redirect(after)
    return render(
        request,
        "records/appointment_cancel.html",
        {"appointment": appointment, "next": safe_next_url(request, ""), "back": after},
    )
