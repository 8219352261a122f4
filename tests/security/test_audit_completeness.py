"""Audit completeness (issue 9, point 8).

1. Every security-relevant action leaves exactly one audit event, with its actor, office,
   target (and patient) and the request id: `CASES` says, for each action the code can write,
   how a person (or the worker) triggers it and what the event must say. Through the HTTP views
   wherever there is a request, so the event's request id is checked against the response's
   X-Request-ID header (outsmart.middleware) and its IP against the client's.
   A task's event carries the request id of its task: "task-<celery task id>" for a task that
   runs on its own (beat: expiry, reminders, re-queued deliveries), and the id of the web
   request that queued it when a click did (outsmart.celery carries it in a message header;
   checked with a real worker below).
   Conventions for the fields: `actor` None is the system (a task) or someone not logged in;
   `office` None is an account-level event (login, two-factor, password), which belongs to no
   office; `target` None only where nothing is known yet (a throttled attempt, a denial that
   happens before the view looks anything up).
2. The table covers every action: the action names are read from the code (every
   `audit_record(action=...)`, and what is passed to functions that forward `action` to it), so
   a new action without a row here fails.
3. Append-only: the application's code never updates or deletes an audit row, the model refuses
   it, and PostgreSQL refuses UPDATE, DELETE and TRUNCATE (outsmart/audit/migrations 0002, 0004).
"""

from __future__ import annotations

import ast
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accesscodes.models import AccessCode
from accesscodes.services import IP_LIMIT, access_code_issue, access_code_redeem
from invitations.models import Invitation, ReviewRequest
from offices.models import Membership
from outsmart import ratelimit
from outsmart.audit.models import AppendOnlyError, AuditEvent
from outsmart.devtools.demo_documents import tiny_pdf
from portal.models import PortalAccess
from records.models import Appointment, Document, FormRequest, TreatmentPlan
from records.services.documents import document_upload
from records.services.smartforms import (
    QuestionContent,
    SmartFormContent,
    form_request_create,
    smart_form_create,
    smart_forms_install_defaults,
)
from tests.conftest import current_totp, make_authenticator
from tests.factories import (
    PASSWORD,
    InvitationFactory,
    MembershipFactory,
    PatientFactory,
    UserFactory,
)

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("outsmart", "offices", "invitations", "records", "accesscodes", "portal")
DOB = date(1975, 2, 8)
NEW_PASSWORD = "juniper-cellar-harvest-3319"
PDF = tiny_pdf("Audit test", ["Nothing to see"])
SKIP = object()


# --- the harness ------------------------------------------------------------------------------
@dataclass
class Outcome:
    events: list[AuditEvent]
    request_id: str
    ip: str | None
    actor: Any
    office: Any
    target: Any
    patient: Any = SKIP


@dataclass
class World:
    office: Any
    admin: Any
    practitioner: Any
    staff: Any
    patient: Any
    support: Any
    verified_login: Callable
    capture: Callable
    settings: Any
    chart: Any = None
    extra: dict = field(default_factory=dict)

    def clinic(self, user) -> Client:
        """A browser of a clinic person, logged in with two-factor verified."""
        return self.verified_login(user, Client())

    def portal(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    def after_commit(self, do: Callable):
        """Run `do` with its after-commit callbacks (emails, tasks) executed."""
        with self.capture(execute=True):
            return do()

    def act(self, do: Callable, *, actor, office, target, patient=SKIP) -> Outcome:
        """Run the one request (or task, or command) under test and collect the events it
        wrote."""
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        result = do()
        events = list(AuditEvent.objects.filter(pk__gt=last).order_by("pk"))
        if isinstance(result, re.Pattern):  # a management command: its run's own id
            request_id, ip = result, None
        elif hasattr(result, "status_code"):
            assert result.status_code < 500, result.status_code
            request_id, ip = result["X-Request-ID"], "127.0.0.1"
        else:  # an EagerResult: a task run on its own
            request_id, ip = f"task-{result.id}", None
        return Outcome(events, request_id, ip, actor, office, target, patient)

    def task(self, task, *args):
        return task.apply(args=args)

    def records_code(self, channel="phone", **kwargs):
        return access_code_issue(
            office=self.office,
            patient=self.chart,
            kind="medical_records",
            actor=self.practitioner,
            channel=channel,
            address=kwargs.pop("address", ""),
            **kwargs,
        )

    def form_request(self) -> FormRequest:
        form = smart_form_create(
            office=self.office,
            content=SmartFormContent(
                title="Before your visit",
                instructions="",
                questions=(QuestionContent("Anything to add?", "short_text", required=False),),
            ),
            actor=None,
            request=None,
        )
        return form_request_create(
            office=self.office, patient=self.chart, form=form, actor=self.practitioner, request=None
        )

    def records_grant(self) -> PortalAccess:
        issued = self.records_code()
        return access_code_redeem(typed=issued.code, date_of_birth=DOB, user=self.patient).grant

    def document(self) -> Document:
        return document_upload(
            office=self.office,
            patient=self.chart,
            upload=SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf"),
            title="Scan",
            document_date=date(2026, 3, 10),
            actor=self.practitioner,
        )

    def invitation(self, **kwargs) -> Invitation:
        kwargs.setdefault("office", self.office)
        kwargs.setdefault("invited_by", self.admin)
        return InvitationFactory(**kwargs)


CASES: dict[str, Callable[[World], Outcome]] = {}


def case(action: str, variant: str = ""):
    def register(function):
        CASES[f"{action}[{variant}]" if variant else action] = function
        function.action = action
        return function

    return register


def post(client: Client, name: str, *args, data=None, **kwargs):
    return client.post(reverse(name, args=args, kwargs=kwargs or None), data or {})


# --- accounts: logins, passwords, two-factor ---------------------------------------------------
LOGIN = reverse("account_login")
SETUP = reverse("accounts:two_factor_setup")
VERIFY = reverse("accounts:two_factor_verify")


def password_login(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    client.post(LOGIN, {"login": email, "password": password})
    return client


@case("auth.login")
def _(w):
    client = Client()
    return w.act(
        lambda: client.post(LOGIN, {"login": w.patient.email, "password": PASSWORD}),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("auth.login_failed")
def _(w):
    return w.act(
        lambda: Client().post(LOGIN, {"login": w.patient.email, "password": "not it at all"}),
        actor=None,
        office=None,
        target=w.patient,
    )


@case("auth.login_throttled")
def _(w):
    client = Client()
    for _attempt in range(5):
        client.post(LOGIN, {"login": w.patient.email, "password": "not it at all"})
    return w.act(
        lambda: client.post(LOGIN, {"login": w.patient.email, "password": PASSWORD}),
        actor=None,
        office=None,
        target=w.patient,
    )


@case("auth.logout")
def _(w):
    client = w.portal(w.patient)
    return w.act(
        lambda: client.post(reverse("account_logout")),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("auth.idle_timeout")
def _(w):
    client = w.clinic(w.staff)
    client.get(reverse("records:patients"))
    session = client.session
    session["clinic_last_seen"] = int(time.time()) - settings.CLINIC_IDLE_TIMEOUT - 60
    session.save()
    return w.act(
        lambda: client.get(reverse("records:patients")),
        actor=w.staff,
        office=None,
        target=w.staff,
    )


@case("auth.password_changed", "change")
def _(w):
    client = w.portal(w.patient)
    data = {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    outcome = w.act(
        lambda: client.post(reverse("account_change_password"), data),
        actor=w.patient,
        office=None,
        target=w.patient,
    )
    assert outcome.events[-1].detail == {"via": "change"} or any(
        e.detail == {"via": "change"} for e in outcome.events
    )
    return outcome


@case("auth.password_changed", "reset")
def _(w):
    from django.core import mail

    client = Client()
    w.after_commit(
        lambda: client.post(reverse("account_reset_password"), {"email": w.patient.email})
    )
    link = next(word for word in mail.outbox[-1].body.split() if "/password/reset/key/" in word)
    page = client.get("/" + link.split("/", 3)[3], follow=True)
    form_url = page.redirect_chain[-1][0]
    outcome = w.act(
        lambda: client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
        actor=w.patient,
        office=None,
        target=w.patient,
    )
    assert [e.detail for e in outcome.events if e.action == "auth.password_changed"] == [
        {"via": "reset"}
    ]
    # The spent reset key is not left in the session store.
    assert "_password_reset_key" not in client.session
    return outcome


def clinic_password_session(w, user) -> Client:
    """A clinic person after the password step, sent to set up two-factor."""
    client = password_login(user.email)
    assert client.get(SETUP).status_code == 200
    return client


@case("two_factor.setup_failed")
def _(w):
    client = clinic_password_session(w, w.practitioner)
    return w.act(
        lambda: client.post(SETUP, {"code": "000000"}),
        actor=w.practitioner,
        office=None,
        target=w.practitioner,
    )


@case("two_factor.enabled")
def _(w):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = clinic_password_session(w, w.practitioner)
    device = TOTPDevice.objects.get(user=w.practitioner, confirmed=False)
    return w.act(
        lambda: client.post(SETUP, {"code": current_totp(device)}),
        actor=w.practitioner,
        office=None,
        target=w.practitioner,
    )


@case("two_factor.backup_codes_regenerated")
def _(w):
    client = w.clinic(w.patient)
    return w.act(
        lambda: post(client, "accounts:backup_codes_regenerate"),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("two_factor.disabled")
def _(w):
    client = w.clinic(w.patient)
    return w.act(
        lambda: post(client, "accounts:two_factor_disable"),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("two_factor.verified")
def _(w):
    device = make_authenticator(w.patient)
    client = password_login(w.patient.email)
    return w.act(
        lambda: client.post(VERIFY, {"code": current_totp(device)}),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("two_factor.failed")
def _(w):
    make_authenticator(w.patient)
    client = password_login(w.patient.email)
    return w.act(
        lambda: client.post(VERIFY, {"code": "BADBA-DCODE"}),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


@case("two_factor.throttled")
def _(w):
    w.settings.TWO_FACTOR_FAILURE_LIMIT = (1, 900)
    make_authenticator(w.patient)
    client = password_login(w.patient.email)
    client.post(VERIFY, {"code": "BADBA-DCODE"})
    return w.act(
        lambda: client.post(VERIFY, {"code": "BADBA-DCODE"}),
        actor=w.patient,
        office=None,
        target=w.patient,
    )


# --- offices and the team -----------------------------------------------------------------------
@case("access.denied", "before the view")
def _(w):
    client = w.clinic(w.staff)
    admin_membership = Membership.objects.get(user=w.admin, office=w.office)
    return w.act(
        lambda: post(client, "offices:remove", admin_membership.pk),
        actor=w.staff,
        office=w.office,
        target=None,
    )


@case("access.denied", "on an object")
def _(w):
    code = w.records_code().access_code
    client = w.clinic(w.staff)
    return w.act(
        lambda: post(client, "accesscodes:cancel", code.pk),
        actor=w.staff,
        office=w.office,
        target=code,
        patient=w.chart,
    )


OFFICE_DATA = {
    "name": "Lakeside Clinic",
    "address": "2 Shore Road",
    "phone": "+1 416 555 0199",
    "time_zone": "America/Toronto",
    "require_two_factor": "on",
}


@case("office.setup_completed")
def _(w):
    w.office.setup_completed_at = None
    w.office.save()
    client = w.clinic(w.admin)
    return w.act(
        lambda: post(client, "offices:edit", data=OFFICE_DATA),
        actor=w.admin,
        office=w.office,
        target=w.office,
    )


@case("office.updated")
def _(w):
    client = w.clinic(w.admin)
    return w.act(
        lambda: post(client, "offices:edit", data=OFFICE_DATA),
        actor=w.admin,
        office=w.office,
        target=w.office,
    )


@case("membership.removed")
def _(w):
    membership = Membership.objects.get(user=w.staff, office=w.office)
    client = w.clinic(w.admin)
    return w.act(
        lambda: post(client, "offices:remove", membership.pk),
        actor=w.admin,
        office=w.office,
        target=w.staff,
    )


@case("membership.left")
def _(w):
    second = MembershipFactory(office=w.office, role="practitioner", is_admin=True).user
    client = w.clinic(second)
    return w.act(
        lambda: post(client, "offices:leave"), actor=second, office=w.office, target=second
    )


# --- invitations ------------------------------------------------------------------------------
def invitee_session(w, invitation: Invitation) -> Client:
    """A browser that opened the invitation's link (the landing remembers it)."""
    client = Client()
    client.get(reverse("invitee:landing", args=[invitation.token]))
    return client


@case("invitation.created")
def _(w):
    client = w.clinic(w.admin)
    data = {"email": "nina.new@example.com", "name": "Nina", "message": ""}
    outcome = w.act(
        lambda: client.post(reverse("invitations:create", kwargs={"role": "staff"}), data),
        actor=w.admin,
        office=w.office,
        target=None,
    )
    outcome.target = Invitation.objects.get(email="nina.new@example.com")
    return outcome


@case("invitation.created", "by support resolving a review")
def _(w):
    invitation = w.invitation(email="shared@example.com")
    review = ReviewRequest.objects.create(invitation=invitation, contact_email="me@example.net")
    client = w.clinic(w.support)
    url = reverse("admin:invitations_reviewrequest_change", args=[review.pk])
    data = {"resolution": "resent_other", "new_email": "me@example.net", "resolution_note": ""}
    outcome = w.act(lambda: client.post(url, data), actor=w.support, office=w.office, target=None)
    outcome.target = Invitation.objects.get(email="me@example.net")
    return outcome


@case("invitation.created", "by the createoffice command")
def _(w):
    from io import StringIO

    from django.core.management import call_command

    from offices.models import Office

    def run():
        call_command(
            "createoffice",
            name="Harbour Physio",
            admin_email="owner@harbour.example",
            stdout=StringIO(),
        )
        return re.compile(r"command-[0-9a-f]{32}")

    outcome = w.act(run, actor=None, office=None, target=None)
    outcome.office = Office.objects.get(name="Harbour Physio")
    outcome.target = Invitation.objects.get(email="owner@harbour.example")
    return outcome


@case("invitation.resent")
def _(w):
    invitation = w.invitation()
    client = w.clinic(w.admin)
    return w.act(
        lambda: post(client, "invitations:resend", invitation.pk),
        actor=w.admin,
        office=w.office,
        target=invitation,
    )


@case("invitation.revoked")
def _(w):
    invitation = w.invitation()
    client = w.clinic(w.admin)
    return w.act(
        lambda: post(client, "invitations:revoke", invitation.pk),
        actor=w.admin,
        office=w.office,
        target=invitation,
    )


@case("invitation.viewed")
def _(w):
    invitation = w.invitation()
    return w.act(
        lambda: Client().get(reverse("invitee:landing", args=[invitation.token])),
        actor=None,
        office=w.office,
        target=invitation,
    )


@case("invitation.expired", "by the sweep")
def _(w):
    from invitations.tasks import invitations_expire

    invitation = w.invitation(expires_at=timezone.now() - timedelta(minutes=1))
    return w.act(lambda: w.task(invitations_expire), actor=None, office=w.office, target=invitation)


@case("invitation.expired", "when the address is invited again")
def _(w):
    old = w.invitation(email="again@example.com", expires_at=timezone.now() - timedelta(days=1))
    client = w.clinic(w.admin)
    data = {"email": "again@example.com", "name": "", "message": ""}
    return w.act(
        lambda: client.post(reverse("invitations:create", kwargs={"role": "staff"}), data),
        actor=None,
        office=w.office,
        target=old,
    )


@case("invitation.registered")
def _(w):
    invitation = w.invitation(email="reg@example.com")
    client = invitee_session(w, invitation)
    data = {
        "security_code": invitation.token,
        "first_name": "Reg",
        "last_name": "Istered",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    outcome = w.act(
        lambda: client.post(reverse("invitee:open_register"), data),
        actor=None,
        office=w.office,
        target=invitation,
    )
    outcome.actor = UserFactory._meta.model.objects.get(email="reg@example.com")
    return outcome


def invitee(w, email: str):
    user = UserFactory(email=email)
    return user, w.clinic(user)


@case("invitation.approved")
def _(w):
    invitation = w.invitation(email="joiner@example.com")
    user, client = invitee(w, "joiner@example.com")
    return w.act(
        lambda: post(client, "invitee:approve", invitation.pk),
        actor=user,
        office=w.office,
        target=invitation,
    )


@case("invitation.declined")
def _(w):
    invitation = w.invitation(email="decliner@example.com")
    user, client = invitee(w, "decliner@example.com")
    return w.act(
        lambda: post(client, "invitee:decline", invitation.pk),
        actor=user,
        office=w.office,
        target=invitation,
    )


@case("invitation.review_requested")
def _(w):
    UserFactory(email="taken@example.com")
    invitation = w.invitation(email="taken@example.com")
    client = invitee_session(w, invitation)
    data = {"contact_email": "mine@example.net", "note": "Not my account"}
    return w.act(
        lambda: client.post(reverse("invitee:open_review"), data),
        actor=None,
        office=w.office,
        target=invitation,
    )


@case("invitation.review_resolved")
def _(w):
    invitation = w.invitation(email="closed@example.com")
    review = ReviewRequest.objects.create(invitation=invitation, contact_email="me@example.net")
    client = w.clinic(w.support)
    url = reverse("admin:invitations_reviewrequest_change", args=[review.pk])
    data = {"resolution": "no_action", "resolution_note": "Spoke to the clinic"}
    return w.act(
        lambda: client.post(url, data), actor=w.support, office=w.office, target=invitation
    )


@case("invitation.sent")
def _(w):
    from invitations.tasks import invitation_send

    invitation = w.invitation(delivery_state="queued", sent_at=None, delivery_attempts=0)
    return w.act(
        lambda: w.task(invitation_send, invitation.pk),
        actor=None,
        office=w.office,
        target=invitation,
    )


@case("invitation.failed")
def _(w):
    from invitations.tasks import invitation_send

    w.settings.EMAIL_BACKEND = "tests.security.test_audit_completeness.RefusingEmailBackend"
    invitation = w.invitation(delivery_state="queued", sent_at=None, delivery_attempts=0)
    return w.act(
        lambda: w.task(invitation_send, invitation.pk),
        actor=None,
        office=w.office,
        target=invitation,
    )


class RefusingEmailBackend:
    """A mail server that refuses every recipient for good (550)."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        import smtplib

        raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"no") for m in messages})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- records ----------------------------------------------------------------------------------
PATIENT_DATA = {
    "first_name": "Ada",
    "last_name": "Quill",
    "date_of_birth": "1980-03-14",
    "email": "ada@example.net",
    "mobile_phone": "+1 416 555 0134",
}


@case("patient.created")
def _(w):
    from records.models import Patient

    client = w.clinic(w.staff)
    outcome = w.act(
        lambda: post(client, "records:patient_create", data=PATIENT_DATA),
        actor=w.staff,
        office=w.office,
        target=None,
    )
    outcome.target = outcome.patient = Patient.objects.get(last_name="Quill")
    return outcome


@case("patient.updated")
def _(w):
    client = w.clinic(w.staff)
    return w.act(
        lambda: post(client, "records:patient_edit", w.chart.pk, data=PATIENT_DATA),
        actor=w.staff,
        office=w.office,
        target=w.chart,
        patient=w.chart,
    )


@case("patient.viewed")
def _(w):
    client = w.clinic(w.staff)
    return w.act(
        lambda: client.get(reverse("records:patient", args=[w.chart.pk])),
        actor=w.staff,
        office=w.office,
        target=w.chart,
        patient=w.chart,
    )


PLAN = {"title": "Knee rehab", "plan_date": "2026-11-20", "body": "Stretch daily."}


@case("treatment_plan.created")
def _(w):
    client = w.clinic(w.practitioner)
    outcome = w.act(
        lambda: post(client, "records:treatment_plan_create", w.chart.pk, data=PLAN),
        actor=w.practitioner,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.target = TreatmentPlan.objects.get()
    return outcome


@case("treatment_plan.updated")
def _(w):
    client = w.clinic(w.practitioner)
    post(client, "records:treatment_plan_create", w.chart.pk, data=PLAN)
    plan = TreatmentPlan.objects.get()
    return w.act(
        lambda: post(client, "records:treatment_plan_edit", plan.pk, data={**PLAN, "body": "Rest"}),
        actor=w.practitioner,
        office=w.office,
        target=plan,
        patient=w.chart,
    )


def appointment_data(w, **changes):
    return {
        "patient": w.chart.pk,
        "practitioner": w.practitioner.pk,
        "date": "2026-03-12",
        "start_time": "09:30",
        "duration_minutes": "30",
        "reason": "Follow-up",
        **changes,
    }


@case("appointment.created")
def _(w):
    client = w.clinic(w.staff)
    outcome = w.act(
        lambda: post(client, "records:appointment_create", data=appointment_data(w)),
        actor=w.staff,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.target = Appointment.objects.get()
    return outcome


@case("appointment.updated")
def _(w):
    client = w.clinic(w.staff)
    post(client, "records:appointment_create", data=appointment_data(w))
    appointment = Appointment.objects.get()
    data = appointment_data(w, start_time="10:30")
    return w.act(
        lambda: post(client, "records:appointment_edit", appointment.pk, data=data),
        actor=w.staff,
        office=w.office,
        target=appointment,
        patient=w.chart,
    )


@case("appointment.cancelled")
def _(w):
    client = w.clinic(w.staff)
    post(client, "records:appointment_create", data=appointment_data(w))
    appointment = Appointment.objects.get()
    return w.act(
        lambda: post(client, "records:appointment_cancel", appointment.pk),
        actor=w.staff,
        office=w.office,
        target=appointment,
        patient=w.chart,
    )


def editor_data(title: str, question_id="", initial=0) -> dict:
    return {
        "title": title,
        "instructions": "",
        "is_active": "on",
        "questions-TOTAL_FORMS": "1",
        "questions-INITIAL_FORMS": str(initial),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        "questions-0-id": str(question_id),
        "questions-0-text": "How are you?",
        "questions-0-kind": "short_text",
        "questions-0-required": "on",
        "questions-0-choices": "",
        "questions-0-help_text": "",
        "questions-0-position": "",
    }


@case("smart_form.created")
def _(w):
    from records.models import SmartForm

    client = w.clinic(w.practitioner)
    outcome = w.act(
        lambda: post(client, "records:smartform_create", data=editor_data("Knee check")),
        actor=w.practitioner,
        office=w.office,
        target=None,
    )
    outcome.target = SmartForm.objects.get(title="Knee check")
    return outcome


@case("smart_form.updated")
def _(w):
    from records.models import SmartForm

    client = w.clinic(w.practitioner)
    post(client, "records:smartform_create", data=editor_data("Knee check"))
    form = SmartForm.objects.get(title="Knee check")
    question = form.questions.get()
    data = editor_data("Knee check, v2", question_id=question.pk, initial=1)
    return w.act(
        lambda: post(client, "records:smartform_edit", form.pk, data=data),
        actor=w.practitioner,
        office=w.office,
        target=form,
    )


@case("form_request.created")
def _(w):
    intake = smart_forms_install_defaults(office=w.office)
    client = w.clinic(w.staff)
    outcome = w.act(
        lambda: post(client, "records:form_request_create", w.chart.pk, data={"form": intake.pk}),
        actor=w.staff,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.target = FormRequest.objects.get()
    return outcome


@case("form_request.viewed")
def _(w):
    form_request = w.form_request()
    client = w.clinic(w.staff)
    return w.act(
        lambda: client.get(reverse("records:form_request_detail", args=[form_request.pk])),
        actor=w.staff,
        office=w.office,
        target=form_request,
        patient=w.chart,
    )


@case("form_request.submitted")
def _(w):
    form_request = w.form_request()
    issued = access_code_issue(
        office=w.office,
        patient=w.chart,
        kind="smart_form",
        actor=w.practitioner,
        channel="print",
        form_request=form_request,
    )
    access_code_redeem(typed=issued.code, user=w.patient)
    client = w.portal(w.patient)
    return w.act(
        lambda: post(client, "portal:form_submit", form_request.pk),
        actor=w.patient,
        office=w.office,
        target=form_request,
        patient=w.chart,
    )


@case("document.uploaded")
def _(w):
    client = w.clinic(w.staff)
    data = {
        "file": SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf"),
        "title": "Scan",
        "document_date": "2026-03-10",
    }
    outcome = w.act(
        lambda: post(client, "records:document_upload", w.chart.pk, data=data),
        actor=w.staff,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.target = Document.objects.get()
    return outcome


@case("document.downloaded")
def _(w):
    document = w.document()
    client = w.clinic(w.staff)
    return w.act(
        lambda: client.get(reverse("records:document_download", args=[document.pk])),
        actor=w.staff,
        office=w.office,
        target=document,
        patient=w.chart,
    )


@case("portal.document_downloaded")
def _(w):
    document = w.document()
    w.records_grant()
    client = w.portal(w.patient)
    return w.act(
        lambda: client.get(reverse("portal:document", args=[document.pk])),
        actor=w.patient,
        office=w.office,
        target=document,
        patient=w.chart,
    )


# --- access codes -----------------------------------------------------------------------------
@case("access_code.issued")
def _(w):
    client = w.clinic(w.practitioner)
    data = {"channel": "phone", "issue_key": "a" * 32}
    outcome = w.act(
        lambda: post(client, "accesscodes:issue_medical_records", w.chart.pk, data=data),
        actor=w.practitioner,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.target = AccessCode.objects.get()
    return outcome


@case("access_code.cancelled", "by the clinic")
def _(w):
    code = w.records_code().access_code
    client = w.clinic(w.practitioner)
    return w.act(
        lambda: post(client, "accesscodes:cancel", code.pk),
        actor=w.practitioner,
        office=w.office,
        target=code,
        patient=w.chart,
    )


@case("access_code.cancelled", "locked by wrong dates of birth")
def _(w):
    from accesscodes.models import DOB_FAILURES_BEFORE_LOCK

    issued = w.records_code()
    AccessCode.objects.filter(pk=issued.access_code.pk).update(
        dob_failures=DOB_FAILURES_BEFORE_LOCK - 1
    )
    client = w.portal(w.patient)
    data = {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}
    data["date_of_birth"] = "1990-01-01"
    return w.act(
        lambda: client.post(reverse("portal:access_code"), data),
        actor=None,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.redeem_failed")
def _(w):
    issued = w.records_code()
    client = w.portal(w.patient)
    data = {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}
    data["date_of_birth"] = "1990-01-01"
    return w.act(
        lambda: client.post(reverse("portal:access_code"), data),
        actor=w.patient,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.throttled")
def _(w):
    for _attempt in range(IP_LIMIT.count):
        ratelimit.hit(IP_LIMIT, "127.0.0.1")
    issued = w.records_code()
    client = w.portal(w.patient)
    data = {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}
    return w.act(
        lambda: client.post(reverse("portal:access_code"), data),
        actor=w.patient,
        office=None,
        target=None,
    )


@case("access_code.redeemed")
def _(w):
    issued = w.records_code()
    client = w.portal(w.patient)
    data = {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}
    data["date_of_birth"] = DOB.isoformat()
    return w.act(
        lambda: client.post(reverse("portal:access_code"), data),
        actor=w.patient,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.opened")
def _(w):
    form_request = w.form_request()
    issued = access_code_issue(
        office=w.office,
        patient=w.chart,
        kind="smart_form",
        actor=w.practitioner,
        channel="print",
        form_request=form_request,
    )
    client = w.portal(w.patient)
    data = {f"code_{i}": word for i, word in enumerate(issued.words, start=1)}
    return w.act(
        lambda: client.post(reverse("portal:access_code"), data),
        actor=w.patient,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_link.viewed")
def _(w):
    issued = w.records_code()
    return w.act(
        lambda: Client().get("/" + issued.link.split("/", 3)[3]),
        actor=None,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.sent")
def _(w):
    from accesscodes.tasks import access_code_deliver

    issued = w.records_code(channel="sms", address=w.chart.mobile_phone)
    return w.act(
        lambda: w.task(access_code_deliver, issued.access_code.pk),
        actor=None,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.delivery_failed")
def _(w):
    from accesscodes.tasks import access_code_deliver

    w.settings.EMAIL_BACKEND = "tests.security.test_audit_completeness.RefusingEmailBackend"
    issued = w.records_code(channel="email", address="nobody@example.net")
    return w.act(
        lambda: w.task(access_code_deliver, issued.access_code.pk),
        actor=None,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


@case("access_code.reminded")
def _(w):
    from accesscodes.tasks import access_codes_remind

    issued = w.records_code(channel="email", address=w.chart.email)
    AccessCode.objects.filter(pk=issued.access_code.pk).update(
        delivery_state="sent", issued_at=timezone.now() - timedelta(days=3, minutes=1)
    )
    return w.act(
        lambda: w.task(access_codes_remind),
        actor=None,
        office=w.office,
        target=issued.access_code,
        patient=w.chart,
    )


# --- the portal -------------------------------------------------------------------------------
@case("portal.registered")
def _(w):
    from outsmart.accounts.models import User

    issued = w.records_code()
    data = {
        "first_name": "Pat",
        "last_name": "Ient",
        "date_of_birth": DOB.isoformat(),
        "email": "pat.ient@example.net",
        "password": NEW_PASSWORD,
        **{f"code_{i}": word for i, word in enumerate(issued.words, start=1)},
    }
    outcome = w.act(
        lambda: Client().post(reverse("portal:register"), data),
        actor=None,
        office=w.office,
        target=None,
        patient=w.chart,
    )
    outcome.actor = outcome.target = User.objects.get(email="pat.ient@example.net")
    return outcome


@case("portal.access_removed")
def _(w):
    grant = w.records_grant()
    client = w.portal(w.patient)
    return w.act(
        lambda: post(client, "portal:access_remove", grant.pk),
        actor=w.patient,
        office=w.office,
        target=grant,
        patient=w.chart,
    )


@case("portal.access_not_me")
def _(w):
    grant = w.records_grant()
    client = w.portal(w.patient)
    return w.act(
        lambda: post(client, "portal:access_not_me", grant.pk),
        actor=w.patient,
        office=w.office,
        target=grant,
        patient=w.chart,
    )


# --- 1. one complete event per action -----------------------------------------------------------
@pytest.fixture
def world(
    db,
    office,
    admin,
    practitioner,
    staff,
    patient,
    support,
    verified_login,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }
    chart = PatientFactory(
        office=office,
        first_name="Ivy",
        last_name="Marsh",
        date_of_birth=DOB,
        email="ivy@example.net",
        mobile_phone="+14165550111",
    )
    return World(
        office=office,
        admin=admin,
        practitioner=practitioner,
        staff=staff,
        patient=patient,
        support=support,
        verified_login=verified_login,
        capture=django_capture_on_commit_callbacks,
        settings=settings,
        chart=chart,
    )


def target_of(instance) -> tuple[str, str]:
    if instance is None:
        return ("", "")
    return (instance._meta.label_lower, str(instance.pk))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_security_relevant_action_leaves_exactly_one_complete_audit_event(world, name):
    trigger = CASES[name]
    outcome = trigger(world)
    matching = [event for event in outcome.events if event.action == trigger.action]
    assert len(matching) == 1, [event.action for event in outcome.events]
    # Nothing else this one request or task did was recorded twice either.
    twice = [a for a, n in Counter(e.action for e in outcome.events).items() if n > 1]
    assert twice == []
    event = matching[0]
    assert event.actor == outcome.actor
    assert event.office == outcome.office
    assert (event.target_type, event.target_id) == target_of(outcome.target)
    if outcome.target is not None:
        assert event.target_repr
    if outcome.patient is not SKIP:
        assert event.patient == outcome.patient
    if isinstance(outcome.request_id, re.Pattern):
        assert outcome.request_id.fullmatch(event.request_id), event.request_id
    else:
        assert event.request_id == outcome.request_id
    assert event.ip == outcome.ip


# --- 2. the table covers every action the code can write --------------------------------------
def _python_files():
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _constants(node) -> list[str] | None:
    """The action names an expression can take: a string, or a choice between strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _constants(node.body), _constants(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def audit_actions_in_code() -> tuple[set[str], list[str]]:
    """Every action name the application can write, and every write whose action is not a
    plain name (which this test cannot check: it fails on them)."""
    trees = {path: ast.parse(path.read_text()) for path in _python_files()}
    writers = {"audit_record", "AuditEvent"}
    actions: set[str] = set()
    # Functions that take `action` and hand it on to the audit log (document_open).
    for tree in trees.values():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            arguments = function.args.args + function.args.kwonlyargs
            if "action" not in [a.arg for a in arguments]:
                continue
            forwards = any(
                isinstance(call, ast.Call)
                and _callee(call) in writers
                and any(
                    k.arg == "action" and isinstance(k.value, ast.Name) and k.value.id == "action"
                    for k in call.keywords
                )
                for call in ast.walk(function)
            )
            if forwards:
                writers.add(function.name)
                defaults = dict(
                    zip(
                        [a.arg for a in function.args.kwonlyargs],
                        function.args.kw_defaults,
                        strict=True,
                    )
                )
                actions.update(_constants(defaults.get("action")) or [])
    unresolved = []
    for path, tree in trees.items():
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or _callee(call) not in writers:
                continue
            for keyword in call.keywords:
                if keyword.arg != "action":
                    continue
                names = _constants(keyword.value)
                if names is not None:
                    actions.update(names)
                elif not (isinstance(keyword.value, ast.Name) and keyword.value.id == "action"):
                    unresolved.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    return actions, unresolved


def test_every_audit_action_in_the_code_has_a_case_in_the_table_and_no_case_is_stale():
    actions, unresolved = audit_actions_in_code()
    assert unresolved == [], "write audit actions as string literals, so they can be checked"
    covered = {trigger.action for trigger in CASES.values()}
    assert actions - covered == set(), "actions without a test: add them to CASES"
    assert covered - actions == set(), "cases for actions the code no longer writes"
    # The scan itself sees what it must: actions written directly, through a choice, through
    # a forwarding function's default and its callers, and by bulk_create.
    assert {
        "auth.login",
        "membership.left",
        "document.downloaded",
        "portal.document_downloaded",
        "invitation.expired",
    } <= actions


# --- the request id of work a click queued, with a real worker ---------------------------------
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_delivery_done_by_the_worker_carries_the_request_id_of_the_click_that_queued_it(
    admin, practitioner, office, verified_login
):
    from celery.contrib.testing.worker import start_worker

    from outsmart.celery import app

    chart = PatientFactory(office=office, date_of_birth=DOB, mobile_phone="+14165550122")
    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        invited = verified_login(admin, Client()).post(
            reverse("invitations:create", kwargs={"role": "staff"}),
            {"email": "worker.test@example.com", "name": "", "message": ""},
        )
        issued = verified_login(practitioner, Client()).post(
            reverse("accesscodes:issue_medical_records", args=[chart.pk]),
            {"channel": "sms", "mobile": chart.mobile_phone, "issue_key": "b" * 32},
        )
        assert (invited.status_code, issued.status_code) == (302, 200)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sent = AuditEvent.objects.filter(action__in=["invitation.sent", "access_code.sent"])
            if sent.count() == 2:
                break
            time.sleep(0.05)
    by_action = {event.action: event for event in sent}
    assert by_action["invitation.sent"].request_id == invited["X-Request-ID"]
    assert by_action["access_code.sent"].request_id == issued["X-Request-ID"]
    assert (
        AuditEvent.objects.get(action="invitation.created").request_id == (invited["X-Request-ID"])
    )


# --- 3. append-only -----------------------------------------------------------------------------
RAW_WRITE = re.compile(
    r"(?i)\b(?:update|delete\s+from|truncate(?:\s+table)?)\s+[\w\", ]*audit_auditevent"
)


def test_the_application_code_never_updates_or_deletes_audit_rows():
    """No `AuditEvent.objects....update()/.delete()/bulk_update()` and no raw SQL that writes
    over the audit table, anywhere in the application (migrations aside)."""
    offenders = []
    for path in _python_files():
        source = path.read_text()
        for call in ast.walk(ast.parse(source)):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
                continue
            if call.func.attr not in {"update", "delete", "bulk_update", "_raw_delete"}:
                continue
            receiver = ast.get_source_segment(source, call.func.value) or ""
            if "AuditEvent" in receiver or "auditevent" in receiver.lower():
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
        for match in RAW_WRITE.finditer(source):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert offenders == []


@pytest.mark.django_db
def test_the_model_refuses_every_way_the_orm_has_to_rewrite_an_audit_row(admin):
    from outsmart.audit.services import audit_record

    event = audit_record(action="auth.login", actor=admin, target=admin)
    event.action = "forged"
    attempts = [
        event.save,
        event.delete,
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action="forged"),
        lambda: AuditEvent.objects.bulk_update([event], ["action"]),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent.objects.all().delete(),
    ]
    for attempt in attempts:
        with pytest.raises(AppendOnlyError), transaction.atomic():
            attempt()
    assert AuditEvent.objects.get(pk=event.pk).action == "auth.login"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %(id)s",
        "UPDATE audit_auditevent SET actor_id = NULL",
        "DELETE FROM audit_auditevent WHERE id = %(id)s",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "TRUNCATE audit_auditevent RESTART IDENTITY CASCADE",
        "TRUNCATE accounts_user, audit_auditevent CASCADE",
    ],
)
def test_the_database_refuses_update_delete_and_truncate_of_audit_rows(admin, sql):
    from outsmart.audit.services import audit_record

    event = audit_record(action="auth.login", actor=admin, target=admin)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The row's foreign-key checks are deferred to the commit; PostgreSQL refuses to
        # TRUNCATE a table with such checks pending before any trigger could: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, {"id": event.pk})
    assert AuditEvent.objects.get(pk=event.pk).action == "auth.login"


@pytest.mark.django_db
def test_only_a_test_database_lets_its_flush_empty_the_audit_log():
    """Only a test database honours `outsmart.audit_truncate`: the guard's own condition."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'audit_event_no_truncate'")
        (source,) = cursor.fetchone()
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
    assert "current_database() LIKE 'test\\_%'" in source
    assert name.startswith("test_")
