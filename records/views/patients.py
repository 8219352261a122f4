"""Patients: the list with search, adding and editing a patient, the patient page, and
treatment plans."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from offices.access import office_view
from offices.permissions import Perm
from records.models import Patient, TreatmentPlan
from records.patients_forms import PatientForm, PatientSearchForm, TreatmentPlanForm
from records.selectors.patients import patient_search, patient_treatment_plans
from records.services import patients as services

PAGE_SIZE = 25


def office_patient(request: HttpRequest, patient_id: int) -> Patient:
    """The office's patient, or 404: another office's patient is as if it did not exist."""
    return get_object_or_404(Patient, pk=patient_id, office=request.office)


@office_view(Perm.VIEW_PATIENTS)
def patient_list(request: HttpRequest) -> HttpResponse:
    form = PatientSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = Paginator(patient_search(request.office, query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "records/patient_list.html",
        {"form": form, "page": page, "query": query},
    )


@office_view(Perm.EDIT_PATIENTS)
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = services.patient_create(
            office=request.office,
            details=services.PatientDetails(**form.cleaned_data),
            actor=request.user,
            request=request,
        )
        messages.success(request, f"{patient.full_name} was added.")
        return redirect("records:patient", patient_id=patient.pk)
    return render(
        request,
        "records/patient_form.html",
        {"form": form, "patient": None},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.EDIT_PATIENTS)
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    initial = {
        f: getattr(patient, f)
        for f in ("first_name", "last_name", "date_of_birth", "email", "mobile_phone")
    }
    form = PatientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.patient_update(
            patient=patient,
            details=services.PatientDetails(**form.cleaned_data),
            actor=request.user,
            request=request,
        )
        messages.success(request, "Patient details saved.")
        return redirect("records:patient", patient_id=patient.pk)
    return render(
        request,
        "records/patient_form.html",
        {"form": form, "patient": patient},
        status=400 if form.is_bound else 200,
    )


def patient_sections(patient: Patient) -> dict:
    """What the patient page shows besides the details, each in a fixed number of queries."""
    from records.selectors.documents import patient_documents
    from records.selectors.schedule import patient_appointments
    from records.selectors.smartforms import patient_form_requests

    return {
        "appointments": patient_appointments(patient),
        "form_requests": patient_form_requests(patient),
        "treatment_plans": patient_treatment_plans(patient),
        "documents": patient_documents(patient),
    }


def _access_codes_section(patient: Patient, perms) -> dict:
    """The Access codes section: every code of the patient (one query), and which kinds this
    person may issue, cancel and reissue."""
    from accesscodes.models import AccessCode
    from accesscodes.selectors import patient_access_codes

    kinds = set()
    if Perm.ISSUE_MEDICAL_RECORDS_CODES in perms:
        kinds.add(AccessCode.Kind.MEDICAL_RECORDS.value)
    if Perm.SEND_SMART_FORMS in perms:
        kinds.add(AccessCode.Kind.SMART_FORM.value)
    return {
        "access_codes": patient_access_codes(patient),
        "access_code_kinds": kinds,
        "can_issue_medical_records_codes": Perm.ISSUE_MEDICAL_RECORDS_CODES in perms,
    }


@office_view(Perm.VIEW_PATIENTS)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    services.patient_viewed(patient=patient, actor=request.user, request=request)
    perms = request.office_perms
    context = {
        "patient": patient,
        **patient_sections(patient),
        "can_edit_patients": Perm.EDIT_PATIENTS in perms,
        "can_manage_schedule": Perm.MANAGE_SCHEDULE in perms,
        "can_write_treatment_plans": Perm.WRITE_TREATMENT_PLANS in perms,
        "can_upload_documents": Perm.UPLOAD_DOCUMENTS in perms,
        "can_send_smart_forms": Perm.SEND_SMART_FORMS in perms,
        **_access_codes_section(patient, perms),
    }
    if context["can_send_smart_forms"]:
        from records.selectors.smartforms import smart_forms_sendable

        context["sendable_smart_forms"] = smart_forms_sendable(request.office)
    return render(request, "records/patient_detail.html", context)


@office_view(Perm.WRITE_TREATMENT_PLANS)
@require_http_methods(["GET", "POST"])
def treatment_plan_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    form = TreatmentPlanForm(request.POST or None, initial={"plan_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        services.treatment_plan_create(
            patient=patient,
            content=services.PlanContent(**form.cleaned_data),
            author=request.user,
            request=request,
        )
        messages.success(request, "Treatment plan saved.")
        return redirect("records:patient", patient_id=patient.pk)
    return render(
        request,
        "records/treatment_plan_form.html",
        {"form": form, "patient": patient, "plan": None},
        status=400 if form.is_bound else 200,
    )


def office_plan(request: HttpRequest, plan_id: int) -> TreatmentPlan:
    return get_object_or_404(
        TreatmentPlan.objects.select_related("patient"), pk=plan_id, office=request.office
    )


@office_view(Perm.WRITE_TREATMENT_PLANS)
@require_http_methods(["GET", "POST"])
def treatment_plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = office_plan(request, plan_id)
    form = TreatmentPlanForm(
        request.POST or None,
        initial={"title": plan.title, "body": plan.body, "plan_date": plan.plan_date},
    )
    if request.method == "POST" and form.is_valid():
        services.treatment_plan_update(
            plan=plan,
            content=services.PlanContent(**form.cleaned_data),
            editor=request.user,
            request=request,
        )
        messages.success(request, "Treatment plan saved. The previous version is kept.")
        return redirect("records:patient", patient_id=plan.patient_id)
    return render(
        request,
        "records/treatment_plan_form.html",
        {"form": form, "patient": plan.patient, "plan": plan},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.VIEW_PATIENTS)
def treatment_plan_history(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = office_plan(request, plan_id)
    versions = plan.versions.select_related("written_by")
    services.patient_viewed(patient=plan.patient, actor=request.user, request=request)
    return render(
        request,
        "records/treatment_plan_history.html",
        {"plan": plan, "patient": plan.patient, "versions": versions},
    )
