"""Smart Forms: the office's templates (list, preview, create, edit), recording that a form
was given to a patient, and a FormRequest's answers."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from offices.access import office_view
from offices.permissions import Perm
from records.models import FormRequest, SmartForm
from records.selectors.smartforms import answer_rows, office_smart_forms
from records.services import smartforms as services
from records.smartforms_forms import (
    AnswerForm,
    FormRequestForm,
    SmartFormForm,
    question_formset,
)
from records.views.patients import office_patient


def _office_form(request: HttpRequest, form_id: int) -> SmartForm:
    # Another office's template answers 404, like one that does not exist.
    return get_object_or_404(SmartForm, pk=form_id, office=request.office)


@office_view(Perm.VIEW_PATIENTS)
def smart_form_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "records/smartform_list.html",
        {
            "smart_forms": office_smart_forms(request.office),
            "can_manage": Perm.MANAGE_SMART_FORMS in request.office_perms,
        },
    )


@office_view(Perm.VIEW_PATIENTS)
def smart_form_detail(request: HttpRequest, form_id: int) -> HttpResponse:
    smart_form = _office_form(request, form_id)
    questions = list(smart_form.questions.all())
    preview = AnswerForm([q.snapshot() for q in questions], auto_id="preview_%s")
    return render(
        request,
        "records/smartform_detail.html",
        {
            "smart_form": smart_form,
            "questions": questions,
            "preview": preview,
            "can_manage": Perm.MANAGE_SMART_FORMS in request.office_perms,
        },
    )


def _content(form: SmartFormForm, questions) -> services.SmartFormContent:
    return services.SmartFormContent(
        title=form.cleaned_data["title"],
        instructions=form.cleaned_data["instructions"],
        is_active=form.cleaned_data["is_active"],
        questions=tuple(
            services.QuestionContent(
                id=q["id"],
                text=q["text"],
                kind=q["kind"],
                required=q["required"],
                choices=tuple(q["choices"]),
                help_text=q["help_text"],
            )
            for q in questions.questions()
        ),
    )


def _editor(request: HttpRequest, smart_form: SmartForm | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = SmartFormForm(data, office=request.office, instance=smart_form)
    questions = question_formset(data, form=smart_form, extra=2 if smart_form else 3)
    if data is not None and form.is_valid() and questions.is_valid():
        content = _content(form, questions)
        try:
            if smart_form is None:
                smart_form = services.smart_form_create(
                    office=request.office, content=content, actor=request.user, request=request
                )
            else:
                smart_form = services.smart_form_update(
                    form=smart_form, content=content, actor=request.user, request=request
                )
        except services.SmartFormError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"“{smart_form.title}” was saved.")
            return redirect("records:smartform_detail", form_id=smart_form.pk)
    return render(
        request,
        "records/smartform_edit.html",
        {"form": form, "questions": questions, "smart_form": smart_form},
        status=400 if data is not None else 200,
    )


@office_view(Perm.MANAGE_SMART_FORMS)
@require_http_methods(["GET", "POST"])
def smart_form_create(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@office_view(Perm.MANAGE_SMART_FORMS)
@require_http_methods(["GET", "POST"])
def smart_form_edit(request: HttpRequest, form_id: int) -> HttpResponse:
    return _editor(request, _office_form(request, form_id))


@office_view(Perm.SEND_SMART_FORMS)
@require_POST
def form_request_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record that a Smart Form was given to the patient (on paper, a tablet at the desk…).
    Sending it with an access link and backup code is the access codes' business."""
    patient = office_patient(request, patient_id)
    form = FormRequestForm(request.POST, office=request.office)
    if form.is_valid():
        try:
            services.form_request_create(
                office=request.office,
                patient=patient,
                form=form.cleaned_data["form"],
                actor=request.user,
                request=request,
            )
        except services.SmartFormError as error:
            form.add_error("form", str(error))
        else:
            messages.success(
                request, f"“{form.cleaned_data['form'].title}” was added for {patient.full_name}."
            )
            return redirect("records:patient", patient_id=patient.pk)
    return render(
        request, "records/formrequest_new.html", {"form": form, "patient": patient}, status=400
    )


@office_view(Perm.VIEW_PATIENTS)
def form_request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    form_request = get_object_or_404(
        FormRequest.objects.select_related("patient", "created_by"),
        pk=request_id,
        office=request.office,
    )
    services.form_request_viewed(form_request=form_request, actor=request.user, request=request)
    return render(
        request,
        "records/formrequest_detail.html",
        {
            "form_request": form_request,
            "patient": form_request.patient,
            "rows": answer_rows(form_request),
        },
    )
