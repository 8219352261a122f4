"""Smart Forms: office templates (title, instructions, ordered questions), the "New patient
intake" every office starts with, and FormRequests (a template sent to a patient, answered once).

A FormRequest copies the template's title, instructions and questions when it is created, so
editing or archiving a template never changes what a patient was asked or what they answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from offices.models import Office
from outsmart.audit.services import audit_record
from records.models import CHOICE_KINDS, FormRequest, Patient, Question, QuestionKind, SmartForm
from records.smartforms_forms import MAX_QUESTIONS, AnswerForm, choices_error

INTAKE_TITLE = "New patient intake"
INTAKE_INSTRUCTIONS = (
    "Please answer these questions before your first visit: they help your practitioner "
    "prepare. Questions marked (optional) can be left blank.\n\n"
    "If you need urgent care, do not use this form: call 911 or go to the nearest emergency "
    "department."
)


class SmartFormError(Exception):
    """An action the Smart Form rules refuse; the message is meant for the person who tried."""


class AnswersInvalid(SmartFormError):
    """Some answers do not fit their questions. `form` is the bound AnswerForm, with a message
    on each wrong answer, ready to render again."""

    def __init__(self, form: AnswerForm):
        super().__init__("Some answers need your attention.")
        self.form = form


@dataclass(frozen=True)
class QuestionContent:
    text: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()
    help_text: str = ""
    id: int | None = None  # an existing question of the form being edited


@dataclass(frozen=True)
class SmartFormContent:
    title: str
    instructions: str = ""
    is_active: bool = True
    questions: tuple[QuestionContent, ...] = field(default_factory=tuple)


INTAKE_QUESTIONS = (
    QuestionContent(
        "What is the main reason for your visit?",
        QuestionKind.LONG_TEXT,
        help_text="In your own words: what you feel, since when, what makes it better or worse.",
    ),
    QuestionContent(
        "Which medications do you take at the moment?",
        QuestionKind.LONG_TEXT,
        help_text="Include vitamins and supplements, with the dose if you know it. "
        "Write “None” if you take none.",
    ),
    QuestionContent("Do you have any allergies?", QuestionKind.YES_NO),
    QuestionContent(
        "If you have allergies: what are you allergic to, and what happens?",
        QuestionKind.LONG_TEXT,
        required=False,
        help_text="Medications, foods, latex, insect stings…",
    ),
    QuestionContent(
        "Do you smoke?",
        QuestionKind.SINGLE_CHOICE,
        choices=("Never smoked", "Former smoker", "Yes, occasionally", "Yes, daily"),
    ),
    QuestionContent(
        "Have you ever been told you have any of these conditions?",
        QuestionKind.MULTIPLE_CHOICE,
        choices=(
            "High blood pressure",
            "Diabetes",
            "Asthma or COPD",
            "Heart disease",
            "Thyroid disease",
            "Depression or anxiety",
            "Cancer",
            "None of these",
        ),
        help_text="Choose all that apply.",
    ),
    QuestionContent(
        "When was your last physical exam?",
        QuestionKind.DATE,
        required=False,
        help_text="An approximate date is fine.",
    ),
    QuestionContent(
        "How much pain do you have today, from 0 to 10?",
        QuestionKind.NUMBER,
        help_text="0 means no pain at all, 10 the worst pain you can imagine.",
    ),
)


def _check_content(content: SmartFormContent) -> None:
    # The editor's form says all this nicer; the service holds the rules whoever calls it.
    if not content.title.strip():
        raise SmartFormError("Enter a title.")
    if not content.questions:
        raise SmartFormError("A Smart Form needs at least one question.")
    if len(content.questions) > MAX_QUESTIONS:
        raise SmartFormError(f"A Smart Form has at most {MAX_QUESTIONS} questions.")
    for question in content.questions:
        if not question.text.strip():
            raise SmartFormError("Every question needs its text.")
        if question.kind not in QuestionKind.values:
            raise SmartFormError(f"“{question.kind}” is not an answer type.")
        if question.kind in CHOICE_KINDS:
            error = choices_error(list(question.choices))
            if error:
                raise SmartFormError(f"{question.text}: {error}")
        elif question.choices:
            raise SmartFormError(f"{question.text}: only choice questions have choices.")


def _question(form: SmartForm, position: int, content: QuestionContent) -> Question:
    return Question(
        form=form,
        position=position,
        text=content.text,
        help_text=content.help_text,
        kind=content.kind,
        required=content.required,
        choices=list(content.choices),
    )


@transaction.atomic
def smart_form_create(
    *, office: Office, content: SmartFormContent, actor, request: HttpRequest | None
) -> SmartForm:
    """Create a template with its questions, in the order given."""
    _check_content(content)
    if SmartForm.objects.filter(office=office, title__iexact=content.title).exists():
        raise SmartFormError("Another Smart Form of this office has this title.")
    form = SmartForm.objects.create(
        office=office,
        title=content.title,
        instructions=content.instructions,
        is_active=content.is_active,
    )
    Question.objects.bulk_create(
        _question(form, position, q) for position, q in enumerate(content.questions, start=1)
    )
    audit_record(
        action="smart_form.created",
        actor=actor,
        office=office,
        target=form,
        request=request,
        detail={"questions": len(content.questions)},
    )
    return form


@transaction.atomic
def smart_form_update(
    *, form: SmartForm, content: SmartFormContent, actor, request: HttpRequest | None
) -> SmartForm:
    """Replace the template's title, instructions and questions. Questions keep their id when
    edited; those left out are removed. FormRequests already sent keep their own copy."""
    form = SmartForm.objects.select_for_update().get(pk=form.pk)
    _check_content(content)
    if (
        SmartForm.objects.filter(office_id=form.office_id, title__iexact=content.title)
        .exclude(pk=form.pk)
        .exists()
    ):
        raise SmartFormError("Another Smart Form of this office has this title.")
    existing = {q.pk: q for q in form.questions.all()}
    kept_ids = [q.id for q in content.questions if q.id is not None]
    if set(kept_ids) - set(existing) or any(n > 1 for n in Counter(kept_ids).values()):
        raise SmartFormError(
            "This Smart Form was changed while you were editing it. "
            "Open it again to see the current questions."
        )
    removed = [pk for pk in existing if pk not in kept_ids]
    Question.objects.filter(pk__in=removed).delete()
    new, changed = [], []
    for position, content_q in enumerate(content.questions, start=1):
        if content_q.id is None:
            new.append(_question(form, position, content_q))
            continue
        question = existing[content_q.id]
        question.position = position
        question.text = content_q.text
        question.help_text = content_q.help_text
        question.kind = content_q.kind
        question.required = content_q.required
        question.choices = list(content_q.choices)
        changed.append(question)
    Question.objects.bulk_update(
        changed, ["position", "text", "help_text", "kind", "required", "choices"]
    )
    Question.objects.bulk_create(new)
    form.title = content.title
    form.instructions = content.instructions
    form.is_active = content.is_active
    form.save()
    audit_record(
        action="smart_form.updated",
        actor=actor,
        office=form.office,
        target=form,
        request=request,
        detail={"questions": len(content.questions), "added": len(new), "removed": len(removed)},
    )
    return form


@transaction.atomic
def smart_forms_install_defaults(*, office: Office) -> SmartForm:
    """Give the office its ready "New patient intake" template. Idempotent: an office that
    already has a Smart Form with that title (even edited or archived) keeps it untouched."""
    # Lock the office so two concurrent calls cannot both create it.
    Office.objects.select_for_update().filter(pk=office.pk).first()
    existing = SmartForm.objects.filter(office=office, title__iexact=INTAKE_TITLE).first()
    if existing is not None:
        return existing
    form = SmartForm.objects.create(
        office=office, title=INTAKE_TITLE, instructions=INTAKE_INSTRUCTIONS
    )
    Question.objects.bulk_create(
        _question(form, position, q) for position, q in enumerate(INTAKE_QUESTIONS, start=1)
    )
    return form


@transaction.atomic
def form_request_create(
    *,
    office: Office,
    patient: Patient,
    form: SmartForm,
    actor,
    request: HttpRequest | None,
) -> FormRequest:
    """Record that `form` was sent to (or given to) `patient`, with a copy of its questions."""
    if patient.office_id != office.pk or form.office_id != office.pk:
        raise SmartFormError("This patient or Smart Form is not part of this office.")
    # The template as it is now (it may have been archived since the page was loaded).
    form = SmartForm.objects.get(pk=form.pk)
    if not form.is_active:
        raise SmartFormError(f"“{form.title}” is archived: make it active before sending it.")
    questions = [q.snapshot() for q in form.questions.all()]
    if not questions:
        raise SmartFormError(f"“{form.title}” has no questions yet.")
    form_request = FormRequest.objects.create(
        office=office,
        patient=patient,
        form=form,
        title=form.title,
        instructions=form.instructions,
        questions=questions,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        action="form_request.created",
        actor=actor,
        office=office,
        patient=patient,
        target=form_request,
        request=request,
        detail={"form_id": form.pk, "questions": len(questions)},
    )
    return form_request


@transaction.atomic
def form_request_submit(
    *,
    form_request: FormRequest,
    data,
    actor=None,
    request: HttpRequest | None = None,
) -> FormRequest:
    """Store the patient's answers, once. `data` holds the raw answers as an HTML form posts
    them (a QueryDict, or a dict of strings and lists of strings; see `AnswerForm`).

    Every answer is checked against its question; if any is wrong, nothing is stored and
    `AnswersInvalid` carries the form with a message on each. A second submission is refused.
    `actor` (the portal user) and `request` are for the audit log.
    """
    form_request = (
        FormRequest.objects.select_for_update(of=("self",))
        .select_related("office", "patient")
        .get(pk=form_request.pk)
    )
    if form_request.status == FormRequest.Status.SUBMITTED:
        when = timezone.localtime(form_request.submitted_at)
        raise SmartFormError(
            f"This form was already submitted on {when:%b} {when.day}, {when:%Y}. "
            "Answers cannot be changed; contact your clinic if something is wrong."
        )
    answer_form = AnswerForm(form_request.questions, data)
    if not answer_form.is_valid():
        raise AnswersInvalid(answer_form)
    form_request.answers = answer_form.answers()
    form_request.status = FormRequest.Status.SUBMITTED
    form_request.submitted_at = timezone.now()
    form_request.save(update_fields=["answers", "status", "submitted_at"])
    audit_record(
        action="form_request.submitted",
        actor=actor,
        office=form_request.office,
        patient=form_request.patient,
        target=form_request,
        request=request,
        detail={"answered": len(form_request.answers), "questions": len(form_request.questions)},
    )
    return form_request


def form_request_viewed(*, form_request: FormRequest, actor, request: HttpRequest) -> None:
    """Someone of the office opened a FormRequest's answers: who, which patient, when."""
    audit_record(
        action="form_request.viewed",
        actor=actor,
        office=request.office,
        patient=form_request.patient,
        target=form_request,
        request=request,
    )
