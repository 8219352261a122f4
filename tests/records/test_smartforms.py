"""Smart Forms: templates and their editor, the "New patient intake" default, FormRequests
(snapshot, answers checked per question kind, submitted once) and the answers page."""

from __future__ import annotations

import importlib

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from outsmart.audit.models import AuditEvent
from records.models import FormRequest, Patient, Question, QuestionKind, SmartForm
from records.selectors.smartforms import patient_form_requests
from records.services.smartforms import (
    INTAKE_TITLE,
    AnswersInvalid,
    QuestionContent,
    SmartFormContent,
    SmartFormError,
    form_request_create,
    form_request_submit,
    smart_form_create,
    smart_form_update,
    smart_forms_install_defaults,
)
from records.smartforms_forms import AnswerForm

pytestmark = pytest.mark.django_db


# --- helpers -------------------------------------------------------------------------------------
@pytest.fixture
def anna(office):
    return Patient.objects.create(office=office, first_name="Anna", last_name="Smith")


@pytest.fixture
def intake(office):
    return smart_forms_install_defaults(office=office)


def all_kinds_form(office, title="Every kind") -> SmartForm:
    return smart_form_create(
        office=office,
        content=SmartFormContent(
            title=title,
            questions=(
                QuestionContent("Your occupation", QuestionKind.SHORT_TEXT),
                QuestionContent("Describe your symptoms", QuestionKind.LONG_TEXT),
                QuestionContent(
                    "Preferred contact", QuestionKind.SINGLE_CHOICE, choices=("Phone", "Email")
                ),
                QuestionContent(
                    "Which apply?",
                    QuestionKind.MULTIPLE_CHOICE,
                    choices=("Fever", "Cough", "Headache"),
                ),
                QuestionContent("Are you pregnant?", QuestionKind.YES_NO),
                QuestionContent("Date of your last visit", QuestionKind.DATE),
                QuestionContent("Your weight in kg", QuestionKind.NUMBER),
            ),
        ),
        actor=None,
        request=None,
    )


def qid(form_request: FormRequest, kind: str) -> str:
    return str(next(q["id"] for q in form_request.questions if q["kind"] == kind))


def good_answers(form_request: FormRequest) -> dict:
    by_kind = {
        QuestionKind.SHORT_TEXT: "Teacher",
        QuestionKind.LONG_TEXT: "Cough for two weeks.\r\nWorse at night.",
        QuestionKind.SINGLE_CHOICE: "Email",
        QuestionKind.MULTIPLE_CHOICE: ["Headache", "Fever"],
        QuestionKind.YES_NO: "no",
        QuestionKind.DATE: "2024-02-29",
        QuestionKind.NUMBER: "72.50",
    }
    return {f"q_{q['id']}": by_kind[q["kind"]] for q in form_request.questions}


def send(office, patient, form, actor=None) -> FormRequest:
    return form_request_create(office=office, patient=patient, form=form, actor=actor, request=None)


def editor_data(questions: list[dict], *, title="Knee follow-up", initial=0, **extra) -> dict:
    """What the editor posts: the template's fields and one formset row per question."""
    data = {
        "title": title,
        "instructions": extra.pop("instructions", ""),
        "is_active": "on",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(initial),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, question in enumerate(questions):
        row = {
            "id": "",
            "text": "",
            "kind": "short_text",
            "required": True,
            "choices": "",
            "help_text": "",
            "position": "",
            **question,
        }
        for name, value in row.items():
            key = f"questions-{index}-{name}"
            if value is True:
                data[key] = "on"
            elif value is not False and value is not None:
                data[key] = str(value)
    return data


def blank_row() -> dict:
    return {}


# --- the "New patient intake" default ------------------------------------------------------------
def test_installing_defaults_gives_the_office_a_ready_intake_form_once(office, other_office):
    first = smart_forms_install_defaults(office=office)
    again = smart_forms_install_defaults(office=office)
    assert first == again
    assert SmartForm.objects.filter(office=office).count() == 1
    assert first.title == INTAKE_TITLE and first.is_active
    questions = list(first.questions.all())
    assert len(questions) == 8
    assert [q.position for q in questions] == list(range(1, 9))
    assert {q.kind for q in questions} == set(QuestionKind.values) - {QuestionKind.SHORT_TEXT}
    assert any(not q.required for q in questions)
    smoker = next(q for q in questions if q.kind == QuestionKind.SINGLE_CHOICE)
    assert "Never smoked" in smoker.choices
    assert not SmartForm.objects.filter(office=other_office).exists()


def test_installing_defaults_leaves_an_edited_intake_form_alone(office, intake):
    Question.objects.filter(form=intake).exclude(position=1).delete()
    smart_forms_install_defaults(office=office)
    assert intake.questions.count() == 1
    assert SmartForm.objects.filter(office=office).count() == 1


def test_the_migration_installs_the_intake_form_for_every_existing_office(
    office, other_office, intake
):
    from django.apps import apps

    migration = importlib.import_module("records.migrations.0003_smartforms_intake_defaults")
    migration.install_intake(apps, None)
    migration.install_intake(apps, None)
    assert SmartForm.objects.filter(office=office).count() == 1
    installed = SmartForm.objects.get(office=other_office)
    assert installed.title == INTAKE_TITLE
    # The frozen copy in the migration is the service's template.
    frozen = [
        (q.text, q.kind, q.required, q.choices, q.help_text) for q in installed.questions.all()
    ]
    current = [(q.text, q.kind, q.required, q.choices, q.help_text) for q in intake.questions.all()]
    assert frozen == current


# --- the template editor -------------------------------------------------------------------------
def test_practitioner_creates_a_smart_form_with_questions_in_the_order_given(
    client, practitioner, office, verified_login
):
    verified_login(practitioner)
    page = client.get(reverse("records:smartform_create"))
    assert page.status_code == 200
    assert page.content.decode().count("New question") == 3
    data = editor_data(
        [
            {
                "text": "Which knee hurts?",
                "kind": "single_choice",
                "choices": "Left\nRight\n\n Both ",
                "position": 2,
            },
            {"text": "  Since   when? ", "kind": "date", "required": False, "position": 1},
            blank_row(),
        ],
        instructions="Answer before your visit.\r\n\r\n\r\nThank you.",
    )
    response = client.post(reverse("records:smartform_create"), data)
    form = SmartForm.objects.get(office=office, title="Knee follow-up")
    assert response.status_code == 302
    assert response.url == reverse("records:smartform_detail", args=[form.pk])
    assert form.instructions == "Answer before your visit.\n\nThank you."
    questions = list(form.questions.values_list("position", "text", "kind", "required", "choices"))
    assert questions == [
        (1, "Since when?", "date", False, []),
        (2, "Which knee hurts?", "single_choice", True, ["Left", "Right", "Both"]),
    ]
    event = AuditEvent.objects.get(action="smart_form.created")
    assert (event.actor, event.office, event.target_id) == (practitioner, office, str(form.pk))


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"text": "Pick one", "kind": "single_choice", "choices": "Only"}, "at least two choices"),
        (
            {
                "text": "Pick",
                "kind": "multiple_choice",
                "choices": "\n".join(f"C{i}" for i in range(31)),
            },
            "at most 30 choices",
        ),
        ({"text": "Pick", "kind": "single_choice", "choices": "Yes\nyes"}, "listed twice"),
        ({"text": "Pick", "kind": "single_choice", "choices": "A\n" + "b" * 201}, "200 characters"),
        ({"text": "Your age", "kind": "number", "choices": "1\n2"}, "Only single and multiple"),
        ({"text": "x" * 501}, "at most 500 characters"),
        (
            {"text": "", "kind": "long_text", "help_text": "A hint but no question"},
            "Enter the question",
        ),
        ({"text": "Kind?", "kind": "essay"}, "Select a valid choice"),
        ({"text": "Order?", "position": "0"}, "greater than or equal to 1"),
    ],
)
def test_a_bad_question_is_refused_with_a_message_and_nothing_is_stored(
    client, admin, office, verified_login, question, message
):
    verified_login(admin)
    response = client.post(reverse("records:smartform_create"), editor_data([question]))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body.replace("&#x27;", "'")
    assert "nothing was saved" in body
    assert not SmartForm.objects.exists()
    assert not Question.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (editor_data([{"text": "Why?"}], title="  \n "), "Enter a title"),
        (editor_data([blank_row(), blank_row()]), "needs at least one question"),
        (editor_data([{"text": "Why?"}], title="t" * 201), "at most 200 characters"),
        ({"title": "No formset at all"}, "did not arrive complete"),
        (editor_data([{"text": f"Q{i}"} for i in range(101)]), "at most 100 questions"),
    ],
)
def test_a_smart_form_needs_a_title_and_a_question(client, admin, verified_login, data, message):
    verified_login(admin)
    response = client.post(reverse("records:smartform_create"), data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not SmartForm.objects.exists()


def test_title_is_single_line_and_unique_in_the_office(
    client, admin, office, intake, verified_login
):
    verified_login(admin)
    response = client.post(
        reverse("records:smartform_create"),
        editor_data([{"text": "Q"}], title="new PATIENT intake"),
    )
    assert response.status_code == 400
    assert "Another Smart Form of this office has this title" in response.content.decode()
    client.post(
        reverse("records:smartform_create"), editor_data([{"text": "Q"}], title="Sleep\r\nhabits")
    )
    assert SmartForm.objects.filter(office=office, title="Sleep habits").exists()


def test_editing_keeps_question_ids_reorders_removes_and_adds(
    client, admin, office, intake, verified_login
):
    verified_login(admin)
    url = reverse("records:smartform_edit", args=[intake.pk])
    page = client.get(url).content.decode()
    assert "What is the main reason for your visit?" in page and page.count("New question") == 2
    old = list(intake.questions.all())
    rows = [
        {
            "id": q.pk,
            "text": q.text,
            "kind": q.kind,
            "required": q.required,
            "choices": "\n".join(q.choices),
            "help_text": q.help_text,
            "position": q.position,
        }
        for q in old
    ]
    rows[0]["position"] = 9  # the reason for the visit goes last
    rows[1]["DELETE"] = True  # medications removed
    rows[2]["text"] = "Are you allergic to anything?"
    rows += [{"text": "Who referred you?", "position": 1}, blank_row()]
    response = client.post(url, editor_data(rows, title=INTAKE_TITLE, initial=len(old)))
    assert response.status_code == 302
    questions = list(intake.questions.all())
    assert len(questions) == 8
    assert questions[0].text == "Who referred you?"
    assert questions[1].pk == old[2].pk and questions[1].text == "Are you allergic to anything?"
    assert questions[-1].pk == old[0].pk
    assert not Question.objects.filter(pk=old[1].pk).exists()
    assert [q.position for q in questions] == list(range(1, 9))
    event = AuditEvent.objects.get(action="smart_form.updated")
    assert event.detail == {"questions": 8, "added": 1, "removed": 1}


def intake_rows(intake: SmartForm) -> list[dict]:
    return [
        {
            "id": q.pk,
            "text": q.text,
            "kind": q.kind,
            "required": q.required,
            "choices": "\n".join(q.choices),
            "help_text": q.help_text,
            "position": q.position,
        }
        for q in intake.questions.all()
    ]


def test_a_question_given_a_new_number_takes_that_place(client, admin, intake, verified_login):
    verified_login(admin)
    old = [q.text for q in intake.questions.all()]
    rows = intake_rows(intake)
    rows[4]["position"] = 2  # "Do you smoke?" becomes the second question
    url = reverse("records:smartform_edit", args=[intake.pk])
    assert client.post(url, editor_data(rows, title=INTAKE_TITLE, initial=8)).status_code == 302
    assert [q.text for q in intake.questions.all()] == [old[0], old[4], *old[1:4], *old[5:]]


def test_editing_with_a_question_of_another_form_changes_nothing(
    client, admin, office, intake, verified_login
):
    other = all_kinds_form(office)
    foreign = other.questions.first()
    verified_login(admin)
    data = editor_data([{"id": foreign.pk, "text": "Hijacked"}], title=INTAKE_TITLE, initial=1)
    response = client.post(reverse("records:smartform_edit", args=[intake.pk]), data)
    assert response.status_code == 400
    assert "changed while you were editing" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.text == "Your occupation"
    assert intake.questions.count() == 8


def test_archiving_a_template_keeps_it_listed_but_not_sendable(office, anna, intake):
    questions = tuple(
        QuestionContent(q.text, q.kind, q.required, tuple(q.choices), q.help_text, q.pk)
        for q in intake.questions.all()
    )
    smart_form_update(
        form=intake,
        content=SmartFormContent(title=INTAKE_TITLE, is_active=False, questions=questions),
        actor=None,
        request=None,
    )
    with pytest.raises(SmartFormError, match="archived"):
        send(office, anna, intake)


def test_staff_may_look_at_templates_but_not_change_them(client, staff, intake, verified_login):
    verified_login(staff)
    listing = client.get(reverse("records:smartforms"))
    assert listing.status_code == 200
    assert INTAKE_TITLE in listing.content.decode()
    assert reverse("records:smartform_edit", args=[intake.pk]) not in listing.content.decode()
    assert client.get(reverse("records:smartform_detail", args=[intake.pk])).status_code == 200
    assert client.get(reverse("records:smartform_create")).status_code == 403
    edit = reverse("records:smartform_edit", args=[intake.pk])
    assert client.get(edit).status_code == 403
    assert client.post(edit, editor_data([{"text": "Q"}], title="Taken over")).status_code == 403
    intake.refresh_from_db()
    assert intake.title == INTAKE_TITLE


def test_another_offices_template_answers_404(client, admin, other_office, verified_login):
    foreign = smart_forms_install_defaults(office=other_office)
    verified_login(admin)
    assert client.get(reverse("records:smartform_detail", args=[foreign.pk])).status_code == 404
    edit = reverse("records:smartform_edit", args=[foreign.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, editor_data([{"text": "Q"}], title="Mine now")).status_code == 404
    assert SmartForm.objects.get(pk=foreign.pk).title == INTAKE_TITLE


def test_template_list_shows_counts_in_one_query(
    client, admin, office, anna, intake, verified_login
):
    all_kinds_form(office)
    send(office, anna, intake)
    send(office, anna, intake)
    verified_login(admin)
    client.get(reverse("records:smartforms"))  # warm the session
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("records:smartforms"))
    for n in range(5):
        all_kinds_form(office, title=f"More {n}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("records:smartforms"))
    assert len(few) == len(many)
    rows = {f.title: (f.question_count, f.sent_count) for f in response.context["smart_forms"]}
    assert rows == {INTAKE_TITLE: (8, 2), "Every kind": (7, 0)}


def test_preview_renders_every_kind_like_the_patient_will_see_it(
    client, staff, office, verified_login
):
    form = all_kinds_form(office)
    verified_login(staff)
    body = client.get(reverse("records:smartform_detail", args=[form.pk])).content.decode()
    assert "<fieldset disabled" in body
    assert 'type="radio"' in body and 'type="checkbox"' in body
    assert 'type="date"' in body and 'type="number"' in body and "<textarea" in body


# --- FormRequests: the snapshot ------------------------------------------------------------------
def test_a_sent_form_keeps_its_questions_when_the_template_changes(
    client, admin, office, anna, intake, verified_login
):
    form_request = send(office, anna, intake, actor=admin)
    assert [q["text"] for q in form_request.questions] == [q.text for q in intake.questions.all()]
    event = AuditEvent.objects.get(action="form_request.created")
    assert (event.actor, event.patient, event.target_id) == (admin, anna, str(form_request.pk))
    smart_form_update(
        form=intake,
        content=SmartFormContent(
            title="Intake (2025)",
            questions=(QuestionContent("Brand new question", QuestionKind.SHORT_TEXT),),
        ),
        actor=admin,
        request=None,
    )
    form_request_submit(form_request=form_request, data=good_intake_answers(form_request))
    verified_login(admin)
    body = client.get(reverse("records:form_request_detail", args=[form_request.pk])).content
    body = body.decode()
    assert "What is the main reason for your visit?" in body
    assert "Brand new question" not in body
    assert INTAKE_TITLE in body and "Intake (2025)" not in body


def good_intake_answers(form_request: FormRequest) -> dict:
    values = [
        "Knee pain after running.",
        "None",
        "yes",
        "Penicillin <b>rash</b>",
        "Former smoker",
        ["Asthma or COPD", "Diabetes"],
        "2023-10-01",
        "4",
    ]
    return {f"q_{q['id']}": v for q, v in zip(form_request.questions, values, strict=True)}


def test_a_template_without_questions_or_of_another_office_cannot_be_sent(
    office, other_office, anna
):
    empty = SmartForm.objects.create(office=office, title="Empty")
    with pytest.raises(SmartFormError, match="no questions"):
        send(office, anna, empty)
    foreign = smart_forms_install_defaults(office=other_office)
    with pytest.raises(SmartFormError):
        send(office, anna, foreign)
    assert not FormRequest.objects.exists()


# --- FormRequests: answers -----------------------------------------------------------------------
def test_answers_are_stored_in_plain_json_types(office, anna):
    form_request = send(office, anna, all_kinds_form(office))
    with time_machine.travel("2026-03-02 15:30:00+00:00", tick=False):
        submitted = form_request_submit(form_request=form_request, data=good_answers(form_request))
    submitted.refresh_from_db()
    assert submitted.status == FormRequest.Status.SUBMITTED
    assert submitted.submitted_at.isoformat() == "2026-03-02T15:30:00+00:00"
    a = submitted.answers
    assert a[qid(submitted, "short_text")] == "Teacher"
    assert a[qid(submitted, "long_text")] == "Cough for two weeks.\nWorse at night."
    assert a[qid(submitted, "single_choice")] == "Email"
    assert a[qid(submitted, "multiple_choice")] == ["Fever", "Headache"]  # the question's order
    assert a[qid(submitted, "yes_no")] is False
    assert a[qid(submitted, "date")] == "2024-02-29"
    assert a[qid(submitted, "number")] == "72.5"
    event = AuditEvent.objects.get(action="form_request.submitted")
    assert event.patient == anna and "Teacher" not in str(event.detail)


def test_answers_from_a_querydict_like_the_portal_posts(office, anna):
    from django.http import QueryDict

    form_request = send(office, anna, all_kinds_form(office))
    data = QueryDict(mutable=True)
    for name, value in good_answers(form_request).items():
        if isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = value
    form_request_submit(form_request=form_request, data=data)
    form_request.refresh_from_db()
    assert form_request.answers[qid(form_request, "multiple_choice")] == ["Fever", "Headache"]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("short_text", "two\nlines", "Keep this answer on one line."),
        ("short_text", "x" * 501, "500 characters or fewer"),
        ("short_text", "   ", "Answer this question."),
        ("long_text", "x" * 5001, "5000 characters or fewer"),
        ("single_choice", "Fax", "Choose one of the answers listed."),
        ("single_choice", ["Phone", "Email"], "Choose one of the answers listed."),
        ("multiple_choice", ["Fever", "Rash"], "Choose only among the answers listed."),
        ("multiple_choice", [], "Choose at least one answer."),
        ("yes_no", "maybe", "Answer yes or no."),
        ("yes_no", "", "Answer yes or no."),
        ("date", "2023-02-30", "Enter a real date"),
        ("date", "31/01/2024", "Enter a real date"),
        ("date", "1850-06-01", "between 1900 and 2100"),
        ("date", "2999-01-01", "between 1900 and 2100"),
        ("number", "seventy", "Enter a number"),
        ("number", "NaN", "Enter a number"),
        ("number", "Infinity", "Enter a number"),
        ("number", "1e10", "between -1,000,000,000 and 1,000,000,000"),
        ("number", "-1000000001", "between -1,000,000,000 and 1,000,000,000"),
        ("number", "1.23456", "at most 4 decimal places"),
    ],
)
def test_a_wrong_answer_gets_a_message_on_its_question_and_nothing_is_stored(
    office, anna, kind, value, message
):
    form_request = send(office, anna, all_kinds_form(office))
    data = good_answers(form_request)
    name = f"q_{qid(form_request, kind)}"
    data[name] = value
    with pytest.raises(AnswersInvalid) as refused:
        form_request_submit(form_request=form_request, data=data)
    assert list(refused.value.form.errors) == [name]
    assert message in refused.value.form.errors[name][0]
    form_request.refresh_from_db()
    assert form_request.status == FormRequest.Status.PENDING
    assert form_request.answers == {} and form_request.submitted_at is None
    assert not AuditEvent.objects.filter(action="form_request.submitted").exists()


def test_a_missing_required_answer_is_refused_and_optional_ones_may_be_blank(office, anna, intake):
    form_request = send(office, anna, intake)
    data = good_intake_answers(form_request)
    allergy, physical, pain = (form_request.questions[i]["id"] for i in (3, 6, 7))
    del data[f"q_{allergy}"], data[f"q_{physical}"], data[f"q_{pain}"]
    with pytest.raises(AnswersInvalid) as refused:
        form_request_submit(form_request=form_request, data=data)
    assert dict(refused.value.form.errors) == {f"q_{pain}": ["Answer this question."]}
    data[f"q_{pain}"] = "0"
    form_request_submit(form_request=form_request, data=data)
    form_request.refresh_from_db()
    assert str(allergy) not in form_request.answers
    assert form_request.answers[str(pain)] == "0"


def test_submitting_twice_is_refused_and_keeps_the_first_answers(office, anna, intake):
    form_request = send(office, anna, intake)
    form_request_submit(form_request=form_request, data=good_intake_answers(form_request))
    first = FormRequest.objects.get(pk=form_request.pk)
    second = good_intake_answers(form_request)
    second[f"q_{form_request.questions[0]['id']}"] = "Something else"
    with pytest.raises(SmartFormError, match="already submitted"):
        form_request_submit(form_request=form_request, data=second)
    form_request.refresh_from_db()
    assert form_request.answers == first.answers
    assert form_request.submitted_at == first.submitted_at


def test_answer_form_shows_hints_as_text_not_html(office):
    form = smart_form_create(
        office=office,
        content=SmartFormContent(
            title="Hints",
            questions=(
                QuestionContent(
                    "<i>Name</i>", QuestionKind.SHORT_TEXT, help_text="<script>alert(1)</script>"
                ),
            ),
        ),
        actor=None,
        request=None,
    )
    questions = [q.snapshot() for q in form.questions.all()]
    html = render_to_string("includes/form_fields.html", {"form": AnswerForm(questions)})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<i>" not in html


# --- the answers page and the patient page -------------------------------------------------------
def test_answers_page_shows_answers_read_only_with_the_submission_time_and_is_audited(
    client, staff, practitioner, office, anna, intake, verified_login
):
    form_request = send(office, anna, intake, actor=practitioner)
    with time_machine.travel("2026-03-02 15:30:00+00:00", tick=False):
        form_request_submit(form_request=form_request, data=good_intake_answers(form_request))
    verified_login(staff)
    response = client.get(reverse("records:form_request_detail", args=[form_request.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "Mar 2, 2026, 10:30 AM" in body  # in the office's time zone (Toronto)
    assert "Knee pain after running." in body
    assert "Penicillin &lt;b&gt;rash&lt;/b&gt;" in body
    assert "Asthma or COPD" in body and "Diabetes" in body
    assert "Oct 1, 2023" in body and "Yes" in body
    assert 'name="q_' not in body and "<textarea" not in body
    event = AuditEvent.objects.get(action="form_request.viewed")
    assert (event.actor, event.patient, event.office) == (staff, anna, office)
    assert event.target_id == str(form_request.pk)


def test_answers_page_of_a_pending_form_lists_its_questions(
    client, admin, office, anna, intake, verified_login
):
    form_request = send(office, anna, intake)
    verified_login(admin)
    body = client.get(reverse("records:form_request_detail", args=[form_request.pk])).content
    assert b"has not submitted this form yet" in body
    assert b"Do you smoke?" in body


def test_another_offices_form_request_answers_404_and_a_removed_member_is_refused(
    client, admin, removed_member, office, other_office, anna, intake, verified_login
):
    theirs = send(
        other_office,
        Patient.objects.create(office=other_office, first_name="Ben", last_name="Ode"),
        smart_forms_install_defaults(office=other_office),
    )
    ours = send(office, anna, intake)
    verified_login(admin)
    assert client.get(reverse("records:form_request_detail", args=[theirs.pk])).status_code == 404
    verified_login(removed_member)
    assert client.get(reverse("records:form_request_detail", args=[ours.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action="form_request.viewed").exists()


def test_answers_page_queries_do_not_grow_with_the_number_of_questions(
    client, admin, office, anna, verified_login
):
    def submitted(n: int) -> FormRequest:
        form = smart_form_create(
            office=office,
            content=SmartFormContent(
                title=f"{n} questions",
                questions=tuple(
                    QuestionContent(f"Question {i}", QuestionKind.SHORT_TEXT) for i in range(n)
                ),
            ),
            actor=None,
            request=None,
        )
        form_request = send(office, anna, form, actor=admin)
        form_request_submit(
            form_request=form_request,
            data={f"q_{q['id']}": "An answer" for q in form_request.questions},
        )
        return form_request

    small, large = submitted(2), submitted(60)
    verified_login(admin)
    client.get(reverse("records:form_request_detail", args=[small.pk]))  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("records:form_request_detail", args=[small.pk]))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("records:form_request_detail", args=[large.pk]))
    assert response.content.decode().count("An answer") == 60
    assert len(few) == len(many)


def test_patient_page_section_lists_requests_newest_first_with_links_to_answers(
    office, anna, practitioner, intake, django_assert_num_queries, rf
):
    older = send(office, anna, intake, actor=practitioner)
    form_request_submit(form_request=older, data=good_intake_answers(older))
    newer = send(office, anna, all_kinds_form(office), actor=None)
    with django_assert_num_queries(1):
        requests = patient_form_requests(anna)
        [r.created_by for r in requests]
    assert requests == [newer, older]
    html = render_to_string(
        "records/_patient_forms.html", {"form_requests": requests, "patient": anna}
    )
    answers = reverse("records:form_request_detail", args=[older.pk])
    assert f'href="{answers}"' in html and "View answers" in html
    assert "Submitted" in html and "Pending" in html
    assert practitioner.get_full_name() in html
    assert 'id="forms-h"' in html
    assert "Record a Smart Form" not in html  # only with sendable_smart_forms and the permission


def test_patient_page_section_offers_recording_a_form_to_those_who_may(office, anna, intake):
    from records.selectors.smartforms import smart_forms_sendable

    SmartForm.objects.create(office=office, title="Nothing in it yet")
    context = {
        "form_requests": [],
        "patient": anna,
        "can_send_smart_forms": True,
        "sendable_smart_forms": smart_forms_sendable(office),
    }
    html = render_to_string("records/_patient_forms.html", context)
    assert reverse("records:form_request_create", args=[anna.pk]) in html
    assert INTAKE_TITLE in html and "Nothing in it yet" not in html
    assert "No Smart Forms sent to Anna yet." in html


# --- recording a form given to a patient ---------------------------------------------------------
def test_staff_records_that_a_form_was_given_to_a_patient(
    client, staff, office, anna, intake, verified_login
):
    verified_login(staff)
    url = reverse("records:form_request_create", args=[anna.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, {"form": intake.pk})
    assert response.status_code == 302
    assert response.url == reverse("records:patient", args=[anna.pk])
    form_request = FormRequest.objects.get(patient=anna)
    assert (form_request.created_by, form_request.title) == (staff, INTAKE_TITLE)
    assert len(form_request.questions) == 8
    assert AuditEvent.objects.filter(action="form_request.created", patient=anna).exists()


def test_recording_a_form_refuses_what_the_office_cannot_send(
    client, staff, office, other_office, anna, intake, verified_login
):
    archived = SmartForm.objects.create(office=office, title="Old", is_active=False)
    Question.objects.create(form=archived, position=1, text="Q", kind="short_text")
    foreign = smart_forms_install_defaults(office=other_office)
    verified_login(staff)
    url = reverse("records:form_request_create", args=[anna.pk])
    for value in ("", "abc", archived.pk, foreign.pk):
        response = client.post(url, {"form": value})
        assert response.status_code == 400
        body = response.content.decode()
        assert "Choose a Smart Form" in body or "Choose one of this office" in body
    their_patient = Patient.objects.create(office=other_office, first_name="Ben", last_name="Ode")
    other_url = reverse("records:form_request_create", args=[their_patient.pk])
    assert client.post(other_url, {"form": intake.pk}).status_code == 404
    assert not FormRequest.objects.exists()


# --- access, per persona -------------------------------------------------------------------------
PERSONAS = ["admin", "practitioner", "staff", "removed_member", "outsider", "patient", "anonymous"]
EXPECTED = {
    "records:smartforms": [200, 200, 200, 403, 200, 403, 302],
    "records:smartform_create": [200, 200, 403, 403, 200, 403, 302],
    "records:smartform_detail": [200, 200, 200, 403, 404, 403, 302],
    "records:smartform_edit": [200, 200, 403, 403, 404, 403, 302],
    "records:form_request_create": [405, 405, 405, 403, 405, 403, 302],
    "records:form_request_detail": [200, 200, 200, 403, 404, 403, 302],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_who_may_open_each_smart_form_page(
    name,
    client,
    verified_login,
    admin,
    practitioner,
    staff,
    removed_member,
    outsider,
    patient,
    office,
    anna,
    intake,
):
    people = {
        "admin": admin,
        "practitioner": practitioner,
        "staff": staff,
        "removed_member": removed_member,
        "outsider": outsider,
        "patient": patient,
    }
    kwargs = {
        "records:smartform_detail": {"form_id": intake.pk},
        "records:smartform_edit": {"form_id": intake.pk},
        "records:form_request_create": {"patient_id": anna.pk},
        "records:form_request_detail": {"request_id": send(office, anna, intake).pk},
    }.get(name, {})
    url = reverse(name, kwargs=kwargs)
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        client.logout()
        if persona != "anonymous":
            verified_login(people[persona])
        assert client.get(url).status_code == expected, (persona, name)


# --- demo data -----------------------------------------------------------------------------------
def test_demo_sends_the_intake_form_to_twelve_and_seven_answer_idempotently(office, admin):
    from outsmart.devtools.demo_smartforms import seed_form_requests

    patients = [
        Patient.objects.create(office=office, first_name=f"P{i}", last_name="Demo")
        for i in range(20)
    ]
    seed_form_requests(office, patients, admin)
    seed_form_requests(office, patients, admin)
    requests = FormRequest.objects.filter(office=office)
    assert requests.count() == 12
    submitted = requests.filter(status=FormRequest.Status.SUBMITTED)
    assert submitted.count() == 7
    assert all(r.submitted_at > r.created_at for r in submitted)
    assert SmartForm.objects.filter(office=office).count() == 1
