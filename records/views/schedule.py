"""The Schedule: the office's appointments by day and by week."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from offices.access import office_view
from offices.permissions import Perm


@office_view(Perm.VIEW_SCHEDULE)
def schedule(request: HttpRequest) -> HttpResponse:
    return render(request, "records/schedule.html")
