"""Schedule and Patients: gated by the office access rule. The records issue fills them."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from offices.access import office_view
from offices.permissions import Perm


@office_view(Perm.VIEW_PATIENTS)
def patient_list(request: HttpRequest) -> HttpResponse:
    return render(request, "records/patient_list.html")
