"""Smart Form filling in the portal: each question kind with its own input, a review step that
stores nothing, "Submit" once; reachable through the account's grants or through a link opened
in this browser session (no account), and nothing else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import access_code_cancel
from outsmart.audit.models import AuditEvent
from portal.services import portal_form_submit
from records.models import FormRequest
from records.services.smartforms import SmartFormError
from tests.factories import UserFactory
from tests.portal.conftest import (
    add_document,
    all_kinds_form,
    grant_form,
    issue_form_code,
    open_form_link,
    practitioner_of,
    send_form,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def form_request(olivia, dr_patel):
    return send_form(olivia, all_kinds_form(olivia.office))


def q(form_request: FormRequest, kind: str) -> str:
    return "q_" + str(next(q["id"] for q in form_request.questions if q["kind"] == kind))


def answers(form_request: FormRequest) -> dict:
    return {
        q(form_request, "short_text"): "Teacher",
        q(form_request, "long_text"): "Cough for two weeks.\r\nWorse at night.",
        q(form_request, "single_choice"): "Email",
        q(form_request, "multiple_choice"): ["Fever", "Headache"],
        q(form_request, "yes_no"): "no",
        q(form_request, "number"): "72.5",
    }


def urls(form_request: FormRequest) -> tuple[str, str, str]:
    return tuple(
        reverse(name, args=[form_request.pk])
        for name in ("portal:form", "portal:form_review", "portal:form_submit")
    )


# --- filling, through an account's grant ----------------------------------------------------------
def test_each_question_kind_has_its_own_input_and_choices_are_grouped(
    logged_in, patient, form_request
):
    grant_form(patient, form_request)
    form_url, review_url, _ = urls(form_request)

    response = logged_in.get(form_url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert "Before your visit" in body and "Riverside Clinic · for Olivia Brown" in body
    assert "Please answer before you come.<br>It takes 5 minutes." in body
    assert f'action="{review_url}"' in body
    assert re.search(rf'<input type="text" name="{q(form_request, "short_text")}"', body)
    assert re.search(rf'<textarea name="{q(form_request, "long_text")}"', body)
    assert re.search(rf'type="date" name="{q(form_request, "date")}"', body)
    assert re.search(
        rf'type="number" name="{q(form_request, "number")}"[^>]*inputmode="decimal"', body
    )
    # Radios and checkboxes are groups, each with its question as the legend.
    legends = re.findall(r"<legend[^>]*>(.*?)</legend>", body, re.S)
    assert len(legends) == 3
    assert any("Preferred contact" in legend for legend in legends)
    assert any("Which apply?" in legend for legend in legends)
    assert any("Are you pregnant?" in legend for legend in legends)
    assert body.count('type="checkbox"') == 3
    assert body.count('type="radio"') == 4
    # Optional questions say so; hints are text, not markup.
    assert 'Date of your last visit <span class="optional">(optional)</span>' in body
    assert "&lt;b&gt;Be&lt;/b&gt; brief" in body


def test_review_shows_the_answers_and_stores_nothing(logged_in, patient, form_request):
    grant_form(patient, form_request)
    form_url, review_url, submit_url = urls(form_request)

    response = logged_in.post(review_url, answers(form_request))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Review your answers" in body
    assert "Teacher" in body and "Cough for two weeks.<br>Worse at night." in body
    assert "<li>Fever</li>" in body and "<li>Headache</li>" in body
    assert "72.5" in body
    assert f'action="{submit_url}"' in body and f'formaction="{form_url}"' in body
    # The answers travel on in hidden fields, line breaks and several choices included.
    hidden = re.findall(r'<input type="hidden" name="(q_\d+)" value="([^"]*)"', body, re.S)
    assert (q(form_request, "multiple_choice"), "Fever") in hidden
    assert (q(form_request, "multiple_choice"), "Headache") in hidden
    assert (q(form_request, "long_text"), "Cough for two weeks.\r\nWorse at night.") in hidden
    form_request.refresh_from_db()
    assert form_request.status == "pending" and form_request.answers == {}


def test_change_answers_brings_the_form_back_filled_in(logged_in, patient, form_request):
    grant_form(patient, form_request)
    form_url, _, _ = urls(form_request)

    body = logged_in.post(form_url, answers(form_request)).content.decode()

    assert re.search(rf'name="{q(form_request, "short_text")}" value="Teacher"', body)
    assert re.search(r'value="Email"[^>]*checked', body)
    assert "Cough for two weeks." in body
    assert "field-error" not in body


def test_a_missing_or_wrong_answer_comes_back_with_a_message_and_answers_kept(
    logged_in, patient, form_request
):
    grant_form(patient, form_request)
    _, review_url, _ = urls(form_request)
    data = answers(form_request)
    del data[q(form_request, "single_choice")]
    data[q(form_request, "number")] = "seventy"

    response = logged_in.post(review_url, data)

    assert response.status_code == 400
    body = response.content.decode()
    assert "Some answers need your attention" in body
    assert "Choose an answer." in body
    assert "Enter a number, e.g. 7 or 72.5." in body
    assert 'value="Teacher"' in body
    assert 'aria-invalid="true"' in body
    form_request.refresh_from_db()
    assert form_request.status == "pending"


def test_submit_stores_the_answers_once_retires_the_codes_and_thanks(
    logged_in, patient, form_request
):
    grant_form(patient, form_request)
    spare = issue_form_code(form_request).access_code  # e.g. the printed backup code
    form_url, _, submit_url = urls(form_request)

    response = logged_in.post(submit_url, answers(form_request))

    assert response.status_code == 302 and response["Location"] == form_url
    form_request.refresh_from_db()
    assert form_request.status == "submitted"
    assert form_request.answers[q(form_request, "multiple_choice")[2:]] == ["Fever", "Headache"]
    assert not AccessCode.objects.filter(form_request=form_request, status="active").exists()
    spare.refresh_from_db()
    assert spare.status == "redeemed" and spare.redeemed_by == patient
    event = AuditEvent.objects.get(action="form_request.submitted")
    assert event.actor == patient and event.patient == form_request.patient
    page = logged_in.get(form_url).content.decode()
    assert "Thank you!" in page and "Riverside Clinic" in page
    assert "Your answers" in page and "Teacher" in page  # the account may read them again
    assert "Go to your Dashboard" in page


def test_a_second_submit_gets_a_clear_message_and_changes_nothing(logged_in, patient, form_request):
    grant_form(patient, form_request)
    form_url, review_url, submit_url = urls(form_request)
    logged_in.post(submit_url, answers(form_request))
    first = FormRequest.objects.get(pk=form_request.pk)

    second = answers(form_request) | {q(form_request, "short_text"): "Astronaut"}
    response = logged_in.post(submit_url, second, follow=True)

    assert response.status_code == 200
    body = response.content.decode()
    assert "already submitted" in body and "Answers cannot be changed" in body
    form_request.refresh_from_db()
    assert form_request.answers == first.answers and form_request.submitted_at == first.submitted_at
    # Going back to review a submitted form leads to the thank-you page too.
    assert logged_in.post(review_url, second)["Location"] == form_url


def test_the_service_refuses_a_second_submission(patient, form_request):
    portal_form_submit(form_request=form_request, data=answers(form_request), user=patient)
    with pytest.raises(SmartFormError, match="already submitted"):
        portal_form_submit(form_request=form_request, data=answers(form_request), user=patient)


def test_a_bad_answer_at_submit_shows_the_form_again(logged_in, patient, form_request):
    grant_form(patient, form_request)
    _, _, submit_url = urls(form_request)
    data = answers(form_request) | {q(form_request, "yes_no"): "maybe"}

    response = logged_in.post(submit_url, data)

    assert response.status_code == 400 and b"Answer yes or no." in response.content
    assert FormRequest.objects.get(pk=form_request.pk).status == "pending"


def test_review_by_get_goes_back_to_the_form(logged_in, patient, form_request):
    grant_form(patient, form_request)
    form_url, review_url, submit_url = urls(form_request)
    assert logged_in.get(review_url)["Location"] == form_url
    assert logged_in.get(submit_url).status_code == 405


def test_a_records_grant_reaches_every_form_of_that_patient(
    logged_in, olivia, olivia_grant, form_request
):
    form_url, _, submit_url = urls(form_request)
    assert logged_in.get(form_url).status_code == 200
    assert logged_in.post(submit_url, answers(form_request)).status_code == 302


# --- who may open a form --------------------------------------------------------------------------
def test_a_smart_form_grant_reaches_only_its_own_form(logged_in, patient, olivia, form_request):
    grant_form(patient, form_request)
    sibling = send_form(olivia)  # the same patient, another form

    assert logged_in.get(urls(form_request)[0]).status_code == 200
    for url in urls(sibling):
        assert logged_in.post(url, {}).status_code == 404
    assert logged_in.get(urls(sibling)[0]).status_code == 404


def test_another_patients_form_answers_404(logged_in, patient, olivia_grant, riverside):
    from records.models import Patient

    stranger = Patient.objects.create(office=riverside, first_name="Sam", last_name="Stone")
    theirs = send_form(stranger)
    form_url, review_url, submit_url = urls(theirs)
    assert logged_in.get(form_url).status_code == 404
    assert logged_in.post(review_url, {}).status_code == 404
    assert logged_in.post(submit_url, {}).status_code == 404
    assert logged_in.get(reverse("portal:form", args=[999999])).status_code == 404
    assert FormRequest.objects.get(pk=theirs.pk).status == "pending"


def test_a_revoked_form_grant_stops_at_the_next_request(logged_in, patient, form_request):
    grant = grant_form(patient, form_request)
    form_url = urls(form_request)[0]
    assert logged_in.get(form_url).status_code == 200

    access_code_cancel(access_code=grant.access_code, actor=practitioner_of(form_request.office))

    assert logged_in.get(form_url).status_code == 404


def test_no_session_and_no_grant_answers_404(client, form_request):
    assert client.get(urls(form_request)[0]).status_code == 404
    other = UserFactory()
    client.force_login(other)
    assert client.get(urls(form_request)[0]).status_code == 404


# --- through a link opened without an account --------------------------------------------------
def test_a_link_session_fills_and_submits_its_form_without_an_account(client, form_request):
    code = open_form_link(client, form_request)
    form_url, review_url, submit_url = urls(form_request)

    assert client.get(form_url).status_code == 200
    assert client.post(review_url, answers(form_request)).status_code == 200
    response = client.post(submit_url, answers(form_request))
    assert response.status_code == 302 and response["Location"] == form_url

    form_request.refresh_from_db()
    assert form_request.status == "submitted"
    code.refresh_from_db()
    assert code.status == "redeemed" and code.redeemed_by is None
    assert AuditEvent.objects.get(action="form_request.submitted").actor is None
    page = client.get(form_url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Thank you!" in body and "You can close this page." in body
    assert "Teacher" not in body  # answers are not shown again to a browser session
    # A second tap on Submit: the same thank-you page, not an error.
    again = client.post(submit_url, answers(form_request))
    assert again.status_code == 200 and b"Thank you!" in again.content


def test_a_link_session_reaches_that_form_and_nothing_else(client, olivia, form_request):
    open_form_link(client, form_request)
    sibling = send_form(olivia)
    document = add_document(olivia)

    assert client.get(urls(form_request)[0]).status_code == 200
    for url in urls(sibling):
        assert client.post(url, {}).status_code == 404
    for name, args in [
        ("portal:dashboard", []),
        ("portal:document", [document.pk]),
        ("portal:my_access", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))


def test_a_link_session_stops_when_the_clinic_cancels_the_link(client, form_request):
    code = open_form_link(client, form_request)
    access_code_cancel(access_code=code, actor=practitioner_of(form_request.office))

    response = client.get(urls(form_request)[0])

    assert response.status_code == 410
    body = response.content.decode()
    assert "This Smart Form link no longer works" in body
    assert "send you the form again" in body
    assert "Olivia" not in body
    assert client.post(urls(form_request)[2], answers(form_request)).status_code == 410
    assert FormRequest.objects.get(pk=form_request.pk).status == "pending"


def test_a_link_session_stops_when_the_link_expires(client, form_request):
    open_form_link(client, form_request)
    with time_machine.travel(timezone.now() + timedelta(days=61)):
        assert client.get(urls(form_request)[0]).status_code == 410


def test_a_form_submitted_elsewhere_shows_as_submitted_to_the_link_session(
    client, patient, form_request
):
    open_form_link(client, form_request)
    portal_form_submit(form_request=form_request, data=answers(form_request), user=patient)
    body = client.get(urls(form_request)[0]).content.decode()
    assert "Thank you!" in body and "Teacher" not in body


def test_another_browser_without_the_link_gets_404(client, form_request):
    open_form_link(client, form_request)
    assert Client().get(urls(form_request)[0]).status_code == 404
