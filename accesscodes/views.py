"""Clinic pages for access codes: issue a Medical Records Access Code, send a Smart Form with
its access link and backup code, cancel, reissue.

A successful POST renders the result itself instead of redirecting: the plain code exists only
in that response (and in the email or SMS), never in the session or the database.
"""

from __future__ import annotations

import segno
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accesscodes.forms import DeliveryForm, SmartFormSendForm, delivery_initial, issue_key_new
from accesscodes.models import AccessCode
from accesscodes.selectors import CodeRow, office_access_code
from accesscodes.services import (
    Issued,
    IssueError,
    access_code_cancel,
    access_code_issue,
    access_code_reissue,
    reissue_problem,
    smart_form_send,
)
from offices.access import office_view, permission_denied
from offices.permissions import Perm
from outsmart.mail import site_url
from records.models import Patient
from records.services.smartforms import SmartFormError
from records.views.patients import office_patient

KIND_PERM = {
    AccessCode.Kind.MEDICAL_RECORDS: Perm.ISSUE_MEDICAL_RECORDS_CODES,
    AccessCode.Kind.SMART_FORM: Perm.SEND_SMART_FORMS,
}


def _patient_url(patient_id: int) -> str:
    return reverse("records:patient", args=[patient_id]) + "#access-codes"


def _office_code(request: HttpRequest, code_id: int) -> CodeRow:
    # Another office's code answers 404, like one that does not exist.
    row = office_access_code(request.office, code_id)
    if row is None:
        raise Http404("No such access code in this office.")
    return row


def _denied(request: HttpRequest, access_code: AccessCode) -> HttpResponse | None:
    """403 when the person may see the code (it is on the patient page) but not handle its
    kind: staff send Smart Forms but do not give access to medical records."""
    needed = KIND_PERM[access_code.kind]
    if needed in request.office_perms:
        return None
    return permission_denied(request, needed, target=access_code, patient=access_code.patient)


def qr_svg(link: str) -> str:
    """The access link as an inline SVG QR code, sized by the stylesheet (viewBox, no size)."""
    return segno.make(link, error="m").svg_inline(
        scale=4, omitsize=True, dark="#000", light="#fff", title="QR code of the access link"
    )


def _result(request: HttpRequest, issued: Issued, *, replaced: AccessCode | None = None):
    """The page that shows the code once: sent (email, SMS), to read out (phone), or the
    printed slip."""
    access_code = issued.access_code
    context = {
        "access_code": access_code,
        "patient": access_code.patient,
        "words": issued.words,
        "replaced": replaced,
        "portal_url": site_url() + reverse("portal:login"),
    }
    if access_code.channel == AccessCode.Channel.PRINT:
        context["qr_svg"] = qr_svg(issued.link)
        return render(request, "accesscodes/slip.html", context)
    return render(request, "accesscodes/issued.html", context)


def _already_issued(request: HttpRequest, issued: Issued) -> HttpResponse:
    """The same form was posted again (double click, reload): the code went out the first
    time and is not shown again."""
    return render(
        request,
        "accesscodes/already_issued.html",
        {
            "access_code": issued.access_code,
            "patient": issued.access_code.patient,
            "may_reissue": KIND_PERM[issued.access_code.kind] in request.office_perms,
        },
        status=409,
    )


def _form_page(request, template: str, form: DeliveryForm, context: dict) -> HttpResponse:
    return render(
        request,
        template,
        {"form": form, "issue_key": form.issue_key_for_page(), **context},
        status=400 if form.is_bound else 200,
    )


def _needs_date_of_birth(request: HttpRequest, patient: Patient, **context) -> HttpResponse:
    return render(
        request,
        "accesscodes/needs_dob.html",
        {"patient": patient, **context},
        status=400 if request.method == "POST" else 200,
    )


@office_view(Perm.ISSUE_MEDICAL_RECORDS_CODES)
@require_http_methods(["GET", "POST"])
def issue_medical_records(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    if patient.date_of_birth is None:
        return _needs_date_of_birth(request, patient)
    if request.method == "POST":
        form = DeliveryForm(request.POST)
        if form.is_valid():
            try:
                issued = access_code_issue(
                    office=request.office,
                    patient=patient,
                    kind=AccessCode.Kind.MEDICAL_RECORDS,
                    actor=request.user,
                    channel=form.cleaned_data["channel"],
                    address=form.cleaned_data["address"],
                    issue_key=form.cleaned_data["issue_key"],
                    request=request,
                )
            except IssueError as error:
                form.add_error(None, str(error))
            else:
                if not issued.created:
                    return _already_issued(request, issued)
                return _result(request, issued)
    else:
        form = DeliveryForm(initial={**delivery_initial(patient), "issue_key": issue_key_new()})
    return _form_page(request, "accesscodes/issue.html", form, {"patient": patient})


@office_view(Perm.SEND_SMART_FORMS)
@require_http_methods(["GET", "POST"])
def send_smart_form(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    if request.method == "POST":
        form = SmartFormSendForm(request.POST, office=request.office)
        if form.is_valid():
            cleaned = form.cleaned_data
            try:
                issued = smart_form_send(
                    office=request.office,
                    patient=patient,
                    form=cleaned["smart_form"],
                    actor=request.user,
                    channel=cleaned["channel"],
                    address=cleaned["address"],
                    issue_key=cleaned["issue_key"],
                    request=request,
                )
            except (IssueError, SmartFormError) as error:
                form.add_error(None, str(error))
            else:
                if not issued.created:
                    return _already_issued(request, issued)
                return _result(request, issued)
    else:
        form = SmartFormSendForm(
            office=request.office,
            initial={**delivery_initial(patient), "issue_key": issue_key_new()},
        )
    return _form_page(
        request,
        "accesscodes/send_smart_form.html",
        form,
        {"patient": patient, "has_forms": form.fields["smart_form"].queryset.exists()},
    )


@office_view(Perm.SEND_SMART_FORMS)
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, code_id: int) -> HttpResponse:
    row = _office_code(request, code_id)
    access_code = row.code
    if denied := _denied(request, access_code):
        return denied
    patient = access_code.patient
    if request.method == "POST":
        if access_code_cancel(
            access_code=access_code,
            actor=request.user,
            request=request,
            reason=AccessCode.CancelReason.CANCELLED,
        ):
            messages.success(request, _cancelled_message(row))
        else:
            messages.info(request, "This code was no longer active: there was nothing to cancel.")
        return redirect(_patient_url(patient.pk))
    if not row.cancellable:
        messages.info(request, "This code is no longer active: there is nothing to cancel.")
        return redirect(_patient_url(patient.pk))
    return render(
        request,
        "accesscodes/cancel_confirm.html",
        {"row": row, "access_code": access_code, "patient": patient},
    )


def _cancelled_message(row: CodeRow) -> str:
    what = row.code.get_kind_display()
    if row.takes_back_access:
        return (
            f"The {what} was cancelled, and the portal access it gave was taken back. "
            "Issue a new code if the patient still needs one."
        )
    return f"The {what} was cancelled: it can no longer be used."


@office_view(Perm.SEND_SMART_FORMS)
@require_http_methods(["GET", "POST"])
def reissue(request: HttpRequest, code_id: int) -> HttpResponse:
    row = _office_code(request, code_id)
    access_code = row.code
    if denied := _denied(request, access_code):
        return denied
    patient = access_code.patient
    context = {"patient": patient, "access_code": access_code, "row": row}
    if access_code.is_medical_records and patient.date_of_birth is None:
        return _needs_date_of_birth(request, patient, access_code=access_code)
    if request.method == "POST":
        form = DeliveryForm(request.POST)
        if form.is_valid():
            try:
                issued = access_code_reissue(
                    access_code=access_code,
                    actor=request.user,
                    channel=form.cleaned_data["channel"],
                    address=form.cleaned_data["address"],
                    issue_key=form.cleaned_data["issue_key"],
                    request=request,
                )
            except IssueError as error:
                form.add_error(None, str(error))
            else:
                if not issued.created:
                    return _already_issued(request, issued)
                return _result(request, issued, replaced=access_code)
    else:
        if problem := reissue_problem(access_code):
            messages.error(request, problem)
            return redirect(_patient_url(patient.pk))
        form = DeliveryForm(
            initial={
                **delivery_initial(patient, previous=access_code),
                "issue_key": issue_key_new(),
            }
        )
    return _form_page(request, "accesscodes/reissue.html", form, context)
