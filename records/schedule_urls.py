"""URL patterns of the schedule area, in the "records" namespace (included by records/urls.py)."""

from django.urls import path

from records.views import schedule

urlpatterns = [
    path("schedule/", schedule.schedule, name="schedule"),
]
