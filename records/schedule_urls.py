"""URL patterns of the schedule area, in the "records" namespace (included by records/urls.py)."""

from django.urls import path

from records.views import schedule

urlpatterns = [
    path("schedule/", schedule.schedule, name="schedule"),
    path("appointments/new/", schedule.appointment_create, name="appointment_create"),
    path(
        "appointments/<int:appointment_id>/edit/",
        schedule.appointment_edit,
        name="appointment_edit",
    ),
    path(
        "appointments/<int:appointment_id>/cancel/",
        schedule.appointment_cancel,
        name="appointment_cancel",
    ),
]
