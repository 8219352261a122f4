"""Every form of the product, posted hostile input by each persona that can reach it.

For each form, Hypothesis mutates a body that would pass (fields dropped, doubled, sent as
lists, replaced by text of every plane, control and NUL characters, invalid UTF-8, very long
strings, numbers where text is expected and text where dates and ids are expected; often only
one or two fields, so the others pass and each field's own checks are reached), encodes it as
urlencoded, multipart (odd file names and bodies for uploads) or a body no form can read,
sometimes swaps a token or an id in the address for garbage, and posts it as a persona drawn
from those the form serves and those it must turn away. Each request runs in a transaction
that is rolled back afterwards, with the rate limits reset, so every example starts alike.
Examples are derandomized (the same on every run); OUTSMART_FUZZ_SCALE=10 runs ten times as
many for a longer hunt.

What must hold, whatever was posted:
- no response is a 500 (and the test client raises nothing);
- nothing stored holds control characters, or a value the application cannot use (an office
  time zone that does not exist);
- a refused request (a 4xx, or a form shown again with its errors) changes no table and writes
  no audit event other than one recording the refusal (a failed login, a wrong code…);
- someone the form must turn away is turned away (login redirect, 400, 403 or 404);
- a GET form (search, filters) changes nothing;
- each persona the form serves gets past the login at least once (no vacuous pass).

`test_every_url_is_fuzzed_or_excluded_on_purpose` walks the URL conf: a new view is either in
FORMS or in EXCLUDED with the reason it takes no input worth fuzzing.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from . import fuzz_checks as checks
from .fuzz_inputs import (
    PDF,
    Body,
    Upload,
    bodies,
    encode,
    odd_segment,
    odd_value,
    path_segment,
    query_string,
    uploads,
)
from .fuzz_world import CLINIC, CLINIC_INTRUDERS, CSRF_SECRET, PASSWORD, World

pytestmark = pytest.mark.django_db

OBJECT_INTRUDERS = (*CLINIC_INTRUDERS, "outsider")
PORTAL_INTRUDERS = ("anonymous",)
# How an intruder is turned away: the login page, 403, 404 for what they may not know of, or
# 400 for a body no form can read (refused before anyone is asked who they are).
TURNED_AWAY = {302, 400, 403, 404}
TOKEN = "FUZZTOKEN"
# More examples for a longer hunt than CI's (e.g. OUTSMART_FUZZ_SCALE=10); still derandomized.
SCALE = float(os.environ.get("OUTSMART_FUZZ_SCALE", "1"))
ODD_IDS = st.sampled_from([0, 1, 2**31, 2**63, 10**30, 99999999])


@dataclass(frozen=True)
class Form:
    """One form: the URL it posts to, who posts it, and a body that would pass."""

    url: str
    personas: tuple[str, ...]
    fields: Callable[[World], list] = lambda w: []
    kwargs: Callable[[World], dict] = lambda w: {}
    intruders: tuple[str, ...] = ()
    method: str = "POST"
    # A token in the address, swapped for garbage in some examples.
    token_kwarg: str | None = None
    # Strategies for particular fields (files, choices) instead of the generic odd values.
    values: dict[str, st.SearchStrategy] = field(default_factory=dict)
    # Tables a refused request may still write, and why (see each use).
    may_change: frozenset[str] = frozenset()
    # Run once per persona after logging in, before the examples (open a link, a step).
    prepare: Callable[[Client, World], None] | None = None
    examples: int = 20
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.url}{f'[{self.variant}]' if self.variant else ''}"


# --- the baseline bodies --------------------------------------------------------------------
def _code_words(w: World, prefix: str = "code_") -> list[tuple[str, str]]:
    return [(f"{prefix}{i}", word) for i, word in enumerate(w.noah_code.words, start=1)]


def _patient_fields(w: World):
    return [
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("date_of_birth", "1985-12-10"),
        ("email", "ada@example.net"),
        ("mobile_phone", "+1 416 555 0134"),
    ]


def _appointment_fields(w: World):
    return [
        ("patient", str(w.olivia.pk)),
        ("practitioner", str(w.practitioner.pk)),
        ("date", "2030-03-11"),
        ("start_time", "09:30"),
        ("duration_minutes", "30"),
        ("reason", "Follow-up"),
        ("next", "/schedule/"),
    ]


def _plan_fields(w: World):
    return [("title", "Physio"), ("plan_date", "2026-03-01"), ("body", "Stretch daily.\n\n- a")]


def _smart_form_fields(w: World, existing=None):
    questions = list(existing.questions.all()) if existing else []
    rows = [
        {
            "id": str(q.pk),
            "text": q.text,
            "kind": q.kind,
            "required": "on",
            "choices": "\n".join(q.choices),
            "help_text": "",
            "position": str(n),
        }
        for n, q in enumerate(questions, start=1)
    ]
    rows.append(
        {
            "id": "",
            "text": "How do you feel?",
            "kind": "single_choice",
            "required": "on",
            "choices": "Good\nBad",
            "help_text": "Pick one",
            "position": "",
        }
    )
    pairs = [
        ("title", "Intake" if existing is None else existing.title),
        ("instructions", "Answer all.\nThank you."),
        ("is_active", "on"),
        ("questions-TOTAL_FORMS", str(len(rows))),
        ("questions-INITIAL_FORMS", str(len(questions))),
        ("questions-MIN_NUM_FORMS", "0"),
        ("questions-MAX_NUM_FORMS", "100"),
    ]
    for index, row in enumerate(rows):
        pairs += [(f"questions-{index}-{name}", value) for name, value in row.items()]
    return pairs


def _delivery_fields(w: World, channel="email"):
    return [
        ("channel", channel),
        ("email", "olivia@example.net"),
        ("mobile", "+1 416 555 0134"),
        ("issue_key", "0123456789abcdef0123456789abcdef"),
    ]


def _invitation_link(invitation) -> str:
    return reverse("invitee:landing", kwargs={"token": invitation.token})


def _open_reset_link(client: Client, w: World) -> None:
    # allauth keeps the key in the session and continues at .../set-password/.
    client.get(
        reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": w.reset_uidb36, "key": w.reset_key},
        )
    )


def _open_records_link(client: Client, w: World) -> None:
    client.get(reverse("access_link", args=[w.records_link_token]))


def _open_setup_page(client: Client, w: World) -> None:
    # The pending authenticator is made when the page is first shown, not by a refused POST.
    client.get(reverse("accounts:two_factor_setup"))


time_zones = st.one_of(
    odd_value, st.sampled_from(["UTC", "Etc/GMT+5", "Mars/Olympus", "america/toronto", "../UTC"])
)
channels = st.sampled_from(["email", "sms", "phone", "print", "fax", "", "EMAIL"])
booleans_as_text = st.sampled_from(["on", "off", "true", "false", "1", "0", "", "yes"])
question_kinds = st.sampled_from(
    ["short_text", "long_text", "single_choice", "multiple_choice", "yes_no", "date", "number", ""]
)
any_id = st.one_of(ODD_IDS.map(str), odd_value)

# Two-factor codes are checked against a limit; failures are counted on the device.
TWO_FACTOR_TABLES = frozenset({"otp_totp_totpdevice", "accounts_backupcode"})
# A wrong date of birth counts on the code (and locks it after a few): kept on purpose.
REDEEM_TABLES = frozenset({"accesscodes_accesscode"})

FORMS: list[Form] = [
    # --- public: log in, passwords, accounts -------------------------------------------------
    Form(
        "account_login",
        ("anonymous",),
        lambda w: [("login", w.patient.email), ("password", PASSWORD), ("remember", "on")],
        examples=30,
    ),
    Form("portal:login", ("anonymous",), lambda w: [("login", w.patient.email), ("password", "x")]),
    Form(
        "account_reset_password", ("anonymous", "patient"), lambda w: [("email", w.patient.email)]
    ),
    Form(
        "account_reset_password_from_key",
        ("anonymous",),
        lambda w: [("password1", "a new long passphrase"), ("password2", "a new long passphrase")],
        kwargs=lambda w: {"uidb36": w.reset_uidb36, "key": "set-password"},
        token_kwarg="key",
        prepare=_open_reset_link,
    ),
    Form(
        "account_signup",
        ("anonymous",),
        lambda w: [("email", "new@example.org"), ("password1", "x" * 12), ("password2", "x" * 12)],
        examples=12,
    ),
    Form("account_confirm_login_code", ("anonymous",), lambda w: [("code", "ABC123")], examples=10),
    Form(
        "account_confirm_email",
        ("anonymous", "patient"),
        kwargs=lambda w: {"key": w.email_confirmation_key},
        token_kwarg="key",
        examples=12,
    ),
    Form("account_logout", ("patient", "admin"), lambda w: [("next", "/")], examples=10),
    Form(
        "account_change_password",
        ("patient", "admin"),
        lambda w: [
            ("oldpassword", PASSWORD),
            ("password1", "a new long passphrase"),
            ("password2", "a new long passphrase"),
        ],
        intruders=("anonymous",),
    ),
    Form(
        "account_set_password",
        ("patient",),
        lambda w: [("password1", "a new long passphrase"), ("password2", "a new long passphrase")],
        examples=12,
    ),
    Form(
        "account_reauthenticate",
        ("patient", "admin"),
        lambda w: [("password", PASSWORD)],
        examples=12,
    ),
    Form(
        "account_email",
        ("patient",),
        lambda w: [("email", "another@example.net"), ("action_add", "")],
        values={"action_add": st.sampled_from(["", "x"])},
        intruders=("anonymous",),
    ),
    Form(
        "account_email",
        ("patient",),
        lambda w: [("email", w.patient.email), ("action_remove", "")],
        variant="remove",
        examples=12,
    ),
    # --- two-factor -------------------------------------------------------------------------
    Form(
        "accounts:two_factor_setup",
        ("newcomer",),
        lambda w: [("code", "123456")],
        prepare=_open_setup_page,
        may_change=TWO_FACTOR_TABLES,
    ),
    Form(
        "accounts:two_factor_verify",
        ("unverified",),
        lambda w: [("code", "123456"), ("next", "/office/")],
        may_change=TWO_FACTOR_TABLES,
    ),
    Form("accounts:backup_codes_regenerate", ("admin",), lambda w: [("next", "/")], examples=10),
    Form("accounts:two_factor_disable", ("patient", "admin"), examples=10),
    # --- invitations: the invitee ------------------------------------------------------------
    Form(
        "invitee:open_register",
        ("anonymous",),
        lambda w: [
            ("security_code", w.open_invitation.token),
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("password1", "a long enough passphrase"),
            ("password2", "a long enough passphrase"),
        ],
        prepare=lambda client, w: client.get(_invitation_link(w.open_invitation)),
        examples=30,
    ),
    Form(
        "invitee:open_review",
        ("anonymous",),
        lambda w: [("contact_email", "me@example.org"), ("note", "It is a shared mailbox.")],
        prepare=lambda client, w: client.get(_invitation_link(w.taken_invitation)),
    ),
    Form(
        "invitee:approve",
        ("invitee",),
        kwargs=lambda w: {"invitation_id": w.invitation_for_invitee.pk},
        intruders=("anonymous", "patient"),
        examples=10,
    ),
    Form(
        "invitee:decline",
        ("invitee",),
        kwargs=lambda w: {"invitation_id": w.invitation_for_invitee.pk},
        intruders=("anonymous", "patient"),
        examples=10,
    ),
    # --- the office and its team ---------------------------------------------------------------
    Form(
        "offices:edit",
        ("admin",),
        lambda w: [
            ("name", "Lakeside Clinic"),
            ("address", "1 Main Street\nToronto"),
            ("phone", "+1 416 555 0100"),
            ("time_zone", "America/Toronto"),
            ("require_two_factor", "on"),
        ],
        intruders=(*CLINIC_INTRUDERS, "practitioner", "staff"),
        values={"time_zone": time_zones},
        examples=30,
    ),
    Form(
        "invitations:create",
        ("admin",),
        lambda w: [
            ("email", "colleague@example.com"),
            ("name", "Dr. Colleague"),
            ("message", "Hi"),
        ],
        kwargs=lambda w: {"role": "practitioner"},
        token_kwarg="role",
        intruders=(*CLINIC_INTRUDERS, "staff"),
        examples=30,
    ),
    Form(
        "invitations:resend",
        ("admin",),
        kwargs=lambda w: {"invitation_id": w.pending_invitation.pk},
        intruders=(*OBJECT_INTRUDERS, "staff"),
        examples=10,
    ),
    Form(
        "invitations:revoke",
        ("admin",),
        kwargs=lambda w: {"invitation_id": w.pending_invitation.pk},
        intruders=(*OBJECT_INTRUDERS, "staff"),
        examples=10,
    ),
    Form(
        "offices:remove",
        ("admin",),
        kwargs=lambda w: {"membership_id": w.staff.memberships.get().pk},
        intruders=(*OBJECT_INTRUDERS, "practitioner"),
        examples=10,
    ),
    Form("offices:leave", ("practitioner", "staff"), intruders=CLINIC_INTRUDERS, examples=10),
    Form(
        "offices:switch",
        CLINIC,
        lambda w: [("office", str(w.office.pk))],
        values={"office": any_id},
        intruders=CLINIC_INTRUDERS,
        examples=12,
    ),
    # --- patients, treatment plans, schedule -----------------------------------------------------
    Form(
        "records:patient_create",
        CLINIC,
        _patient_fields,
        intruders=CLINIC_INTRUDERS,
        examples=30,
    ),
    Form(
        "records:patient_edit",
        CLINIC,
        _patient_fields,
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        intruders=OBJECT_INTRUDERS,
        examples=30,
    ),
    Form(
        "records:treatment_plan_create",
        ("admin", "practitioner"),
        _plan_fields,
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        intruders=(*OBJECT_INTRUDERS, "staff"),
    ),
    Form(
        "records:treatment_plan_edit",
        ("practitioner",),
        _plan_fields,
        kwargs=lambda w: {"plan_id": w.plan.pk},
        intruders=(*OBJECT_INTRUDERS, "staff"),
    ),
    Form(
        "records:appointment_create",
        CLINIC,
        _appointment_fields,
        values={"patient": any_id, "practitioner": any_id},
        intruders=CLINIC_INTRUDERS,
        examples=30,
    ),
    Form(
        "records:appointment_edit",
        ("staff", "practitioner"),
        _appointment_fields,
        kwargs=lambda w: {"appointment_id": w.appointment.pk},
        values={"patient": any_id, "practitioner": any_id},
        intruders=OBJECT_INTRUDERS,
        examples=30,
    ),
    Form(
        "records:appointment_cancel",
        ("staff",),
        lambda w: [("next", "/schedule/?view=day")],
        kwargs=lambda w: {"appointment_id": w.appointment.pk},
        intruders=OBJECT_INTRUDERS,
        examples=12,
    ),
    # --- Smart Forms (templates, giving one to a patient) -----------------------------------------
    Form(
        "records:smartform_create",
        ("admin", "practitioner"),
        _smart_form_fields,
        values={
            "questions-0-kind": question_kinds,
            "questions-TOTAL_FORMS": st.one_of(ODD_IDS.map(str), odd_value),
            "questions-INITIAL_FORMS": st.one_of(ODD_IDS.map(str), odd_value),
        },
        intruders=(*CLINIC_INTRUDERS, "staff"),
        examples=25,
    ),
    Form(
        "records:smartform_edit",
        ("practitioner",),
        lambda w: _smart_form_fields(w, w.smart_form),
        kwargs=lambda w: {"form_id": w.smart_form.pk},
        values={
            "questions-0-id": any_id,
            "questions-1-kind": question_kinds,
            "questions-INITIAL_FORMS": st.one_of(ODD_IDS.map(str), odd_value),
        },
        intruders=(*OBJECT_INTRUDERS, "staff"),
        examples=20,
    ),
    Form(
        "records:form_request_create",
        CLINIC,
        lambda w: [("form", str(w.smart_form.pk))],
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        values={"form": any_id},
        intruders=OBJECT_INTRUDERS,
        examples=15,
    ),
    # --- documents ---------------------------------------------------------------------------
    Form(
        "records:document_upload",
        CLINIC,
        lambda w: [
            ("file", Upload(b"scan.pdf", PDF, b"application/pdf")),
            ("title", "Referral letter"),
            ("document_date", "2026-03-10"),
        ],
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        values={"file": st.one_of(uploads, uploads, odd_value)},
        intruders=OBJECT_INTRUDERS,
        examples=35,
    ),
    # --- access codes (clinic side) ------------------------------------------------------------
    Form(
        "accesscodes:issue_medical_records",
        ("admin", "practitioner"),
        _delivery_fields,
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        values={"channel": st.one_of(channels, odd_value)},
        intruders=(*OBJECT_INTRUDERS, "staff"),
        examples=30,
    ),
    Form(
        "accesscodes:send_smart_form",
        CLINIC,
        lambda w: [("smart_form", str(w.smart_form.pk)), *_delivery_fields(w, "sms")],
        kwargs=lambda w: {"patient_id": w.olivia.pk},
        values={"channel": st.one_of(channels, odd_value), "smart_form": any_id},
        intruders=OBJECT_INTRUDERS,
        examples=30,
    ),
    Form(
        "accesscodes:cancel",
        ("practitioner",),
        kwargs=lambda w: {"code_id": w.olivia_code.pk},
        intruders=(*OBJECT_INTRUDERS, "staff"),
        examples=10,
    ),
    Form(
        "accesscodes:reissue",
        ("admin", "practitioner"),
        _delivery_fields,
        kwargs=lambda w: {"code_id": w.olivia_code.pk},
        values={"channel": st.one_of(channels, odd_value)},
        intruders=(*OBJECT_INTRUDERS, "staff"),
    ),
    # --- the patient portal ---------------------------------------------------------------
    Form(
        "portal:register",
        ("anonymous",),
        lambda w: [
            ("first_name", "Noah"),
            ("last_name", "Brown"),
            ("date_of_birth", "2015-09-14"),
            ("email", "noahs.parent@example.org"),
            ("password", "a long enough passphrase"),
            *_code_words(w),
        ],
        may_change=REDEEM_TABLES,
        examples=35,
    ),
    Form(
        "portal:register",
        ("anonymous",),
        lambda w: [
            ("first_name", "Noah"),
            ("last_name", "Brown"),
            ("date_of_birth", "2015-09-14"),
            ("email", "noahs.parent@example.org"),
            ("password", "a long enough passphrase"),
        ],
        prepare=_open_records_link,
        may_change=REDEEM_TABLES,
        variant="after an access link",
        examples=20,
    ),
    Form(
        "portal:access_code",
        ("patient",),
        lambda w: [*_code_words(w), ("date_of_birth", "2015-09-14")],
        intruders=PORTAL_INTRUDERS,
        may_change=REDEEM_TABLES,
        examples=30,
    ),
    Form(
        "portal:link_continue",
        ("patient",),
        lambda w: [("date_of_birth", "2015-09-14")],
        prepare=_open_records_link,
        intruders=PORTAL_INTRUDERS,
        may_change=REDEEM_TABLES,
    ),
    Form(
        "portal:form",
        ("patient", "link_visitor"),
        lambda w: w.answers(w.link_form_request),
        kwargs=lambda w: {"form_request_id": w.link_form_request.pk},
        intruders=("anonymous", "admin"),
        examples=20,
    ),
    Form(
        "portal:form_review",
        ("patient", "link_visitor"),
        lambda w: w.answers(w.link_form_request),
        kwargs=lambda w: {"form_request_id": w.link_form_request.pk},
        intruders=("anonymous", "admin"),
        examples=30,
    ),
    Form(
        "portal:form_submit",
        ("patient", "link_visitor"),
        lambda w: w.answers(w.link_form_request),
        kwargs=lambda w: {"form_request_id": w.link_form_request.pk},
        intruders=("anonymous", "admin"),
        examples=30,
    ),
    Form(
        "portal:access_remove",
        ("patient",),
        kwargs=lambda w: {"grant_id": w.patient.portal_accesses.first().pk},
        intruders=("anonymous", "admin"),
        examples=10,
    ),
    Form(
        "portal:access_not_me",
        ("patient",),
        kwargs=lambda w: {"grant_id": w.patient.portal_accesses.first().pk},
        intruders=("anonymous", "admin"),
        examples=10,
    ),
    # --- the Django admin (support) ---------------------------------------------------------
    Form(
        "admin:invitations_reviewrequest_change",
        ("support",),
        lambda w: [
            ("resolution", "resent_other"),
            ("new_email", "confirmed@example.org"),
            ("resolution_note", "Clinic confirmed by phone."),
            ("_save", "Save"),
        ],
        kwargs=lambda w: {"object_id": w.review_request.pk},
        intruders=("admin", "anonymous"),
        values={"resolution": st.one_of(odd_value, st.sampled_from(["no_action", "resent_same"]))},
    ),
    Form(
        "admin:offices_office_add",
        ("support",),
        lambda w: [
            ("name", "Bayview Clinic"),
            ("address", "2 Bay Street"),
            ("phone", "+1 416 555 0199"),
            ("time_zone", "America/Toronto"),
            ("require_two_factor", "on"),
            ("setup_completed_at_0", "2026-01-05"),
            ("setup_completed_at_1", "10:00:00"),
            ("memberships-TOTAL_FORMS", "0"),
            ("memberships-INITIAL_FORMS", "0"),
            ("memberships-MIN_NUM_FORMS", "0"),
            ("memberships-MAX_NUM_FORMS", "1000"),
            ("_save", "Save"),
        ],
        intruders=("admin", "anonymous"),
        values={"time_zone": time_zones},
    ),
    Form(
        "admin:accounts_user_add",
        ("support",),
        lambda w: [
            ("email", "operator@example.org"),
            ("usable_password", "true"),
            ("password1", "a long enough passphrase"),
            ("password2", "a long enough passphrase"),
            ("_save", "Save"),
        ],
        intruders=("admin", "anonymous"),
    ),
    Form(
        "admin:accounts_user_change",
        ("support",),
        lambda w: [
            ("email", w.staff.email),
            ("first_name", "Desk"),
            ("last_name", "Person"),
            ("is_active", "on"),
            ("_save", "Save"),
        ],
        kwargs=lambda w: {"object_id": w.staff.pk},
        intruders=("admin", "anonymous"),
        values={"groups": any_id},
        examples=20,
    ),
    Form(
        "admin:audit_auditevent_change",
        ("support",),
        lambda w: [("action", "forged"), ("_save", "Save")],
        kwargs=lambda w: {"object_id": 1},
        examples=10,
    ),
    # --- GET forms: searches and filters ---------------------------------------------------------
    Form(
        "records:patients",
        CLINIC,
        lambda w: [("q", "Brown"), ("page", "1")],
        method="GET",
        examples=20,
    ),
    Form(
        "offices:team",
        CLINIC,
        lambda w: [("q", "Lopez"), ("page", "2")],
        intruders=CLINIC_INTRUDERS,
        method="GET",
        examples=20,
    ),
    Form(
        "offices:activity",
        ("admin",),
        lambda w: [("action", "patient.created"), ("person", str(w.admin.pk)), ("page", "2")],
        method="GET",
        examples=20,
    ),
    Form(
        "records:schedule",
        ("staff",),
        lambda w: [
            ("view", "week"),
            ("date", "2026-03-10"),
            ("practitioner", str(w.practitioner.pk)),
            ("cancelled", "show"),
        ],
        method="GET",
        examples=20,
    ),
    Form(
        "records:appointment_create",
        ("staff",),
        lambda w: [
            ("patient", str(w.olivia.pk)),
            ("practitioner", str(w.practitioner.pk)),
            ("date", "2026-03-10"),
        ],
        values={"patient": any_id, "practitioner": any_id},
        method="GET",
        variant="query",
        examples=15,
    ),
    Form(
        "access_link",
        ("anonymous", "patient"),
        kwargs=lambda w: {"token": w.records_link_token},
        token_kwarg="token",
        method="GET",
        examples=15,
    ),
    Form(
        "invitee:landing",
        ("anonymous", "invitee"),
        kwargs=lambda w: {"token": w.open_invitation.token},
        token_kwarg="token",
        method="GET",
        examples=12,
    ),
    *[
        Form(
            f"admin:{model}_changelist",
            ("support",),
            lambda w: [("q", "example"), ("o", "1"), ("p", "1"), ("e", "1")],
            method="GET",
            examples=10,
        )
        for model in (
            "accounts_user",
            "offices_office",
            "invitations_invitation",
            "invitations_reviewrequest",
            "audit_auditevent",
        )
    ],
]

# Patterns that are not fuzzed, and why. Every other pattern must be in FORMS.
GET_ONLY = "GET only: a POST answers 405"
NO_INPUT = "a page that reads no input: a POST shows the same page and changes nothing"
ADMIN_PAGE = "a page of the Django admin site that takes no form"
EXCLUDED = {
    # Both kinds are checked below, so a page that starts reading input cannot hide here.
    "records:document_download": GET_ONLY,
    "portal:dashboard": GET_ONLY,
    "portal:document": GET_ONLY,
    "portal:my_access": GET_ONLY,
    "account_email_verification_sent": GET_ONLY,
    "account_reset_password_done": GET_ONLY,
    "account_reset_password_from_key_done": GET_ONLY,
    "account_inactive": GET_ONLY,
    "offices:detail": NO_INPUT,
    "records:patient": NO_INPUT,
    "records:treatment_plan_history": NO_INPUT,
    "records:smartforms": NO_INPUT,
    "records:smartform_detail": NO_INPUT,
    "records:form_request_detail": NO_INPUT,
    "invitee:open": NO_INPUT,
    "invitee:list": NO_INPUT,
    "invitee:detail": NO_INPUT,
    "accounts:overview": NO_INPUT,
    "healthz": NO_INPUT,
    "home": "a redirect to the person's start page, whatever the method",
    "admin_login_redirect": "a redirect to the site's login page",
    # Older forms of the invitation link: the same view as invitee:landing, fuzzed there.
    "invitations/<str:token>/register/": "the invitation link's landing (invitee:landing)",
    "invitations/<str:token>/review/": "the invitation link's landing (invitee:landing)",
    # The Django admin: its site pages, and the admin of apps we do not change.
    "admin:index": ADMIN_PAGE,
    "admin:login": "shadowed by admin_login_redirect",
    "admin:logout": "Django's own logout (a POST without fields)",
    "admin:password_change": "Django's own form; support changes passwords on the account pages",
    "admin:password_change_done": ADMIN_PAGE,
    "admin:autocomplete": ADMIN_PAGE,
    "admin:jsi18n": ADMIN_PAGE,
    "admin:view_on_site": "a redirect",
    "admin:app_list": ADMIN_PAGE,
    "admin:auth_group_*": "Django's own Group admin, unchanged",
    "admin:account_emailaddress_*": "allauth's own EmailAddress admin, unchanged",
    "admin:otp_totp_totpdevice_*": "django-otp's own TOTPDevice admin, unchanged",
    "admin:auth_user_password_change": "Django's own admin password form",
    "admin:accounts_user_history": ADMIN_PAGE,
    "admin:accounts_user_delete": "Django's own confirmation (one field, 'post')",
    "admin:offices_office_change": "the same form as offices_office_add, fuzzed there",
    "admin:offices_office_history": ADMIN_PAGE,
    "admin:offices_office_delete": "Django's own confirmation (PROTECT keeps the office)",
    "admin:invitations_invitation_*": "read-only for support (no add, change or delete)",
    "admin:invitations_reviewrequest_add": "no add permission",
    "admin:invitations_reviewrequest_history": ADMIN_PAGE,
    "admin:invitations_reviewrequest_delete": "no delete permission",
    "admin:audit_auditevent_add": "no add permission (read-only)",
    "admin:audit_auditevent_history": ADMIN_PAGE,
    "admin:audit_auditevent_delete": "no delete permission (read-only)",
    "admin:emails_outgoingemail_*": "read-only for support (no add or change)",
    "admin/<model>/<path:object_id>/": "Django's redirect of an old admin address",
    "admin/(?P<url>.*)$": "Django's catch-all: 404 or a redirect to a slash",
    "dev/outbox": "development outbox, only with DEBUG",
}


def url_patterns(resolver=None, namespace="", prefix=""):
    """(name or route, route) of every pattern of the URL conf."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from url_patterns(entry, inner, route)
        elif isinstance(entry, URLPattern):
            if entry.name:
                yield (f"{namespace}:{entry.name}" if namespace else entry.name), route
            else:
                yield None, route


def _excluded(name: str | None, route: str) -> bool:
    if name is None:
        if route.startswith("admin/") and route.endswith("<path:object_id>/"):
            return True
        return route in EXCLUDED
    if name in EXCLUDED:
        return True
    return any(key.endswith("*") and name.startswith(key[:-1]) for key in EXCLUDED if ":" in key)


def test_every_url_is_fuzzed_or_excluded_on_purpose():
    fuzzed = {form.url for form in FORMS}
    missing = [
        name or route
        for name, route in url_patterns()
        if name not in fuzzed and not _excluded(name, route)
    ]
    assert not missing, f"fuzz these forms (FORMS) or say why not (EXCLUDED): {missing}"
    known = {name for name, _ in url_patterns()}
    stale = [f.url for f in FORMS if f.url not in known]
    assert not stale, f"FORMS names URLs that no longer exist: {stale}"


@pytest.fixture
def world(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }
    return World()


def _who_can_get(name: str) -> str:
    if name.startswith("portal:"):
        return "patient"
    if name.startswith("admin:"):
        return "support"
    if name.startswith("invitee:"):
        return "invitee"
    if name.startswith("account"):
        return "patient"
    return "admin"


GET_ONLY_KWARGS = {
    "records:patient": lambda w: {"patient_id": w.olivia.pk},
    "records:treatment_plan_history": lambda w: {"plan_id": w.plan.pk},
    "records:smartform_detail": lambda w: {"form_id": w.smart_form.pk},
    "records:form_request_detail": lambda w: {"request_id": w.form_request.pk},
    "records:document_download": lambda w: {"document_id": w.document.pk},
    "portal:document": lambda w: {"document_id": w.document.pk},
    "invitee:detail": lambda w: {"invitation_id": w.invitation_for_invitee.pk},
}


@pytest.mark.parametrize(
    "name", sorted(name for name, why in EXCLUDED.items() if why in (GET_ONLY, NO_INPUT))
)
def test_pages_excluded_for_taking_no_input_take_none(name, world):
    """A hostile POST to a page excluded above is refused (GET only) or shows the page and
    changes nothing (no input), so a page that starts reading input cannot hide there."""
    cookies = world.cookies(_who_can_get(name))
    path = reverse(name, kwargs=GET_ONLY_KWARGS.get(name, lambda w: {})(world))
    client = _client(cookies)
    shown = client.get(path).status_code
    body = Body(pairs=[("x", "\x00"), ("next", "//evil.example"), ("q", "a" * 5000)])
    with checks.rolled_back():
        before = checks.snapshot()
        response = _send(client, Form(name, ()), path, body)
        changed = checks.changed_tables(before, checks.snapshot())
    expected = 405 if EXCLUDED[name] == GET_ONLY else shown
    assert response.status_code == expected, f"{name}: POST {response.status_code}"
    assert not changed, f"a POST to {name} changed {changed}"


# --- the fuzzer ---------------------------------------------------------------------------------
def _path(form: Form, world: World, data) -> str:
    kwargs = dict(form.kwargs(world))
    swapped = None
    if form.token_kwarg and data.draw(st.booleans(), label="garbage token"):
        swapped = data.draw(odd_segment, label=form.token_kwarg)
        kwargs[form.token_kwarg] = TOKEN
    for name, value in kwargs.items():
        if isinstance(value, int) and data.draw(st.integers(0, 5), label=f"odd {name}") == 0:
            kwargs[name] = data.draw(ODD_IDS, label=name)
    path = reverse(form.url, kwargs=kwargs)
    if swapped is not None:
        path = path.replace(TOKEN, path_segment(swapped))
    return path


def _client(cookies) -> Client:
    # As a browser: the CSRF check runs (and reads the body before any view does).
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.cookies = copy.deepcopy(cookies)
    return client


def _send(client: Client, form: Form, path: str, body: Body):
    if form.method == "GET":
        return client.get(path + "?" + query_string(body.pairs))
    raw, content_type = encode(body)
    return client.generic(
        "POST", path, data=raw, content_type=content_type, HTTP_X_CSRFTOKEN=CSRF_SECRET
    )


def _refused(response) -> bool:
    if response.status_code >= 400:
        return True
    return response.status_code == 200 and bool(checks.form_errors(response))


def _check(form: Form, world: World, cookies, persona: str, path: str, body: Body):
    cache.clear()  # rate limits start afresh: each example reaches the form itself
    client = _client(cookies)
    with checks.rolled_back():
        before, audit_id = checks.snapshot(), checks.last_audit_id()
        where = f"{form.method} {path[:200]} as {persona}: {body.describe()}"
        try:
            response = _send(client, form, path, body)
        except Exception as error:  # the test client must not raise either
            pytest.fail(f"{where}\nraised {error!r}")
        status = response.status_code
        assert status != 500, f"{where}\n500\n{checks.exception_text(response.exc_info)}"
        changed = checks.changed_tables(before, checks.snapshot())
        actions = checks.audit_actions_since(audit_id)
        garbage = checks.garbage(changed, audit_id)
        assert not garbage, f"{where}\nstored control characters: {garbage}"
        broken = checks.broken_rows() if "offices_office" in changed else []
        assert not broken, f"{where}\nstored what the application cannot use: {broken}"
        if persona in form.intruders:
            assert status in TURNED_AWAY, f"{where}\nan intruder got {status}"
        if form.method == "GET":
            assert not changed - form.may_change, f"{where}\na GET changed {changed}"
        elif persona in form.intruders or _refused(response):
            unexpected = changed - form.may_change
            assert not unexpected, f"{where}\nrefused ({status}) but changed {unexpected}"
            noted = [a for a in actions if a not in checks.REFUSAL_ACTIONS]
            assert not noted, f"{where}\nrefused ({status}) but audited {noted}"
    return response


def _sent_to_log_in(response) -> bool:
    """Whether the response sends the browser to log in (or to its second factor) first."""
    if response.status_code != 302:
        return False
    gates = [
        "account_login",
        "portal:login",
        "accounts:two_factor_setup",
        "accounts:two_factor_verify",
    ]
    return response.url.split("?")[0] in {reverse(name) for name in gates}


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_fuzzed_form_never_fails_and_stores_nothing_when_refused(form, world):
    personas = (*form.personas, *form.intruders)
    baseline = form.fields(world)
    form.kwargs(world)  # the objects the address names exist before anyone logs in
    sessions = {persona: world.cookies(persona, form.prepare) for persona in personas}

    @settings(
        max_examples=max(1, round(form.examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(data=st.data())
    def fuzz(data):
        # At least half the examples come from those the form serves.
        persona = data.draw(
            st.one_of(st.sampled_from(form.personas), st.sampled_from(personas)), label="persona"
        )
        path = _path(form, world, data)
        body = data.draw(bodies(baseline, values=form.values), label="body")
        response = _check(form, world, sessions[persona], persona, path, body)
        drawn.add(persona)
        if not _sent_to_log_in(response):
            reached.add(persona)

    drawn: set[str] = set()
    reached: set[str] = set()
    fuzz()
    # Everyone is tried at least once, with the body that would pass.
    path = reverse(form.url, kwargs=form.kwargs(world))
    for persona in [p for p in personas if p not in drawn]:
        response = _check(form, world, sessions[persona], persona, path, Body(pairs=baseline))
        if not _sent_to_log_in(response):
            reached.add(persona)
    # The sessions work: each persona the form serves got past the login (not a vacuous pass).
    never = set(form.personas) - {"anonymous"} - reached
    assert not never, f"never got past the login: {never}"


def test_the_fuzzer_notices_a_500_a_refused_form_that_stores_and_stored_garbage(world, monkeypatch):
    """The checks can fail: a view that crashes, a form that saves before it refuses, and
    text with control characters that reaches the database."""
    from django import forms

    from records.models import Patient
    from records.patients_forms import PatientForm
    from records.views import patients

    form = next(f for f in FORMS if f.url == "records:patient_create")
    cookies = world.cookies("staff")
    body = Body(pairs=_patient_fields(world))
    path = reverse(form.url)
    real_create = patients.services.patient_create

    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(patients.services, "patient_create", crash)
    with pytest.raises(AssertionError, match="500"):
        _check(form, world, cookies, "staff", path, body)

    def save_then_refuse(self):
        Patient.objects.create(office=world.office, first_name="Kept", last_name="Anyway")
        raise forms.ValidationError("refused")

    monkeypatch.setattr(patients.services, "patient_create", real_create)
    monkeypatch.setattr(PatientForm, "clean", save_then_refuse)
    with pytest.raises(AssertionError, match=r"refused \(400\) but changed"):
        _check(form, world, cookies, "staff", path, body)

    def create_with_control_characters(*, details, **kwargs):
        return real_create(details=dataclasses.replace(details, last_name="A\x1bB"), **kwargs)

    monkeypatch.undo()
    monkeypatch.setattr(patients.services, "patient_create", create_with_control_characters)
    with pytest.raises(AssertionError, match="stored control characters"):
        _check(form, world, cookies, "staff", path, body)
