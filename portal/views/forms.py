"""Smart Form filling: the questions, a review step, and "Submit" once.

Reachable through the account's grants or through a Smart Form link opened in this browser
session (no account needed): `portal.access.form_request_reachable` decides, on every request.
The answers travel in the POST between the steps (hidden fields on the review page), so no
draft is stored anywhere before "Submit".
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accesscodes.models import AccessCode
from portal import services
from portal.access import (
    account_reaches_form,
    form_request_reachable,
    portal_page,
    session_form_code_ids,
)
from records.models import FormRequest
from records.selectors.smartforms import answer_rows
from records.services.smartforms import AnswersInvalid, SmartFormError
from records.smartforms_forms import AnswerForm, field_name

GROUPED_WIDGETS = {"radioselect", "checkboxselectmultiple"}


def _open(request: HttpRequest, form_request_id: int) -> tuple[FormRequest | None, HttpResponse]:
    """(form_request, None) when this request may open the form now; otherwise (None, the
    page to show) when this browser session opened the form's link before but it is closed now
    (the form was submitted, or the link expired or was cancelled). Anything else: 404."""
    try:
        return form_request_reachable(request, form_request_id), None
    except Http404:
        code = (
            AccessCode.objects.filter(
                pk__in=session_form_code_ids(request), form_request_id=form_request_id
            )
            .select_related("form_request__office")
            .defer("form_request__questions", "form_request__answers")
            .order_by("-issued_at")
            .first()
        )
        if code is None:
            raise
        form_request = code.form_request
        if form_request.status == FormRequest.Status.SUBMITTED:
            return None, _done(request, form_request, show_answers=False)
        return None, render(
            request, "portal/form_closed.html", {"form_request": form_request}, status=410
        )


def _done(request: HttpRequest, form_request: FormRequest, *, show_answers: bool) -> HttpResponse:
    return render(
        request,
        "portal/form_done.html",
        {
            "form_request": form_request,
            "rows": answer_rows(form_request) if show_answers else None,
        },
    )


def _questions(form: AnswerForm) -> list[dict]:
    """Each question's bound field, whether it is a group of choices (a <fieldset>), and the
    ids of its hint and errors for screen readers."""
    questions = []
    for number, question in enumerate(form.questions, start=1):
        bound = form[field_name(question)]
        described = []
        if bound.help_text:
            described.append(f"{bound.auto_id}_helptext")
        if bound.errors:
            described.append(f"{bound.auto_id}_error")
        grouped = bound.widget_type in GROUPED_WIDGETS
        if not grouped:
            attrs = bound.field.widget.attrs
            if described:
                attrs["aria-describedby"] = " ".join(described)
            if bound.errors:
                attrs["aria-invalid"] = "true"
        questions.append(
            {
                "number": number,
                "field": bound,
                "grouped": grouped,
                "described_by": " ".join(described),
            }
        )
    return questions


def _fill(request: HttpRequest, form_request: FormRequest, form: AnswerForm, status=200):
    return render(
        request,
        "portal/form_fill.html",
        {"form_request": form_request, "form": form, "questions": _questions(form)},
        status=status,
    )


@portal_page
@require_http_methods(["GET", "POST"])
def form_fill(request: HttpRequest, form_request_id: int) -> HttpResponse:
    """The questions. A POST comes back from the review page ("Change answers") with the
    answers given so far."""
    form_request, closed = _open(request, form_request_id)
    if closed is not None:
        return closed
    if form_request.status == FormRequest.Status.SUBMITTED:
        return _done(
            request, form_request, show_answers=account_reaches_form(request.user, form_request)
        )
    data = request.POST if request.method == "POST" else None
    return _fill(request, form_request, AnswerForm(form_request.questions, data))


@portal_page
@require_http_methods(["GET", "POST"])
def form_review(request: HttpRequest, form_request_id: int) -> HttpResponse:
    form_request, closed = _open(request, form_request_id)
    if closed is not None:
        return closed
    if request.method == "GET" or form_request.status == FormRequest.Status.SUBMITTED:
        return redirect("portal:form", form_request_id=form_request.pk)
    form = AnswerForm(form_request.questions, request.POST)
    if not form.is_valid():
        return _fill(request, form_request, form, status=400)
    # What will be stored, shown as the clinic will read it; nothing is saved yet.
    preview = FormRequest(questions=form_request.questions, answers=form.answers())
    carried = [
        (name, value) for name in form.fields for value in request.POST.getlist(name) if value
    ]
    return render(
        request,
        "portal/form_review.html",
        {"form_request": form_request, "rows": answer_rows(preview), "carried": carried},
    )


@portal_page
@require_POST
def form_submit(request: HttpRequest, form_request_id: int) -> HttpResponse:
    form_request, closed = _open(request, form_request_id)
    if closed is not None:
        return closed
    try:
        services.portal_form_submit(
            form_request=form_request, data=request.POST, user=request.user, request=request
        )
    except AnswersInvalid as error:
        return _fill(request, form_request, error.form, status=400)
    except SmartFormError as error:  # already submitted (a second tap, another device)
        messages.info(request, str(error))
    return redirect("portal:form", form_request_id=form_request.pk)
