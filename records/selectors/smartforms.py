"""Smart Form reads: the office's templates, a patient's FormRequests, a request's answers.
Each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from offices.models import Office
from records.models import FormRequest, Patient, Question, QuestionKind, SmartForm


def office_smart_forms(office: Office) -> list[SmartForm]:
    """The office's templates, active first, with `question_count` and `sent_count`: one query."""
    questions = (
        Question.objects.filter(form=OuterRef("pk"))
        .order_by()
        .values("form")
        .annotate(n=Count("pk"))
        .values("n")
    )
    sent = (
        FormRequest.objects.filter(form=OuterRef("pk"))
        .order_by()
        .values("form")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        SmartForm.objects.filter(office=office)
        .annotate(
            question_count=Coalesce(Subquery(questions), 0),
            sent_count=Coalesce(Subquery(sent), 0),
        )
        .order_by("-is_active", "title", "id")
    )


def smart_forms_sendable(office: Office) -> QuerySet[SmartForm]:
    """The templates that can be sent to a patient: active, with at least one question."""
    return (
        SmartForm.objects.filter(office=office, is_active=True, questions__isnull=False)
        .distinct()
        .order_by("title", "id")
    )


def patient_form_requests(patient: Patient) -> list[FormRequest]:
    """The patient's FormRequests, newest first, with who sent them: one query. The snapshot
    and answers are not loaded: the list shows title, sender, dates and status."""
    return list(
        FormRequest.objects.filter(patient=patient, office_id=patient.office_id)
        .select_related("created_by")
        .defer("questions", "answers", "instructions")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class AnswerRow:
    number: int
    question: str
    help_text: str
    kind: str
    kind_label: str
    required: bool
    answered: bool
    text: str = ""
    items: tuple[str, ...] = ()
    day: date | None = None


def answer_rows(form_request: FormRequest) -> list[AnswerRow]:
    """Each question of the snapshot next to its stored answer, ready to show read-only.
    No query: everything is on the row."""
    rows = []
    for number, (question, answer) in enumerate(form_request.answered_questions(), start=1):
        kind = question["kind"]
        row = {
            "number": number,
            "question": question["text"],
            "help_text": question.get("help_text", ""),
            "kind": kind,
            "kind_label": QuestionKind(kind).label,
            "required": question["required"],
            "answered": answer not in (None, "", []),
        }
        if row["answered"]:
            if kind == QuestionKind.MULTIPLE_CHOICE:
                row["items"] = tuple(str(item) for item in answer)
            elif kind == QuestionKind.YES_NO:
                row["text"] = "Yes" if answer is True else "No"
            elif kind == QuestionKind.DATE:
                row["day"] = _iso_date(answer)
                row["text"] = str(answer)
            else:
                row["text"] = str(answer)
        rows.append(AnswerRow(**row))
    return rows


def _iso_date(value) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
