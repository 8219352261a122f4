"""The clinic, people and records the form fuzzer posts against.

Lakeside (the personas' office, two-factor required): `admin`, `practitioner`, `staff`, a
removed member; `newcomer` (a member who has not set up two-factor yet) and `unverified` (has
an authenticator, password-only session). Hilltop: its admin, the `outsider`. `patient` is a
portal account holding a records grant (Olivia) and a Smart Form grant; `link_visitor` is a
browser without an account that opened a Smart Form's access link; `invitee` is an account
with a pending invitation; `support` is the Django admin's operator.

Objects are made on first use, so each form's test builds only what it posts to.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from http.cookies import SimpleCookie

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import make_authenticator
from tests.factories import (
    PASSWORD,
    InvitationFactory,
    MembershipFactory,
    OfficeFactory,
    UserFactory,
)

# People who log in with a verified second factor, as after a full login.
VERIFIED = {"admin", "practitioner", "staff", "removed_member", "outsider", "support", "invitee"}
CLINIC = ("admin", "practitioner", "staff")
CSRF_SECRET = "fuzzCsrfSecret0123456789abcdefAB"  # 32 characters, as Django's secrets are
# Who must be turned away from a clinic form: not logged in, another office, a removed member.
# (The outsider is an admin too, of another office: turned away only from this office's objects.)
CLINIC_INTRUDERS = ("anonymous", "removed_member", "patient")


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


class World:
    def __init__(self):
        self.office = OfficeFactory(name="Lakeside Clinic")
        self.other_office = OfficeFactory(name="Hilltop Clinic")

    # --- people ---------------------------------------------------------------------------
    def _member(self, email: str, *, role="practitioner", is_admin=False, office=None):
        return MembershipFactory(
            office=office or self.office, role=role, is_admin=is_admin, user__email=email
        ).user

    @functools.cached_property
    def admin(self):
        return self._member("admin@lakeside.example", is_admin=True)

    @functools.cached_property
    def practitioner(self):
        return self._member("dr.who@lakeside.example")

    @functools.cached_property
    def staff(self):
        return self._member("desk@lakeside.example", role="staff")

    @functools.cached_property
    def removed_member(self):
        membership = MembershipFactory(
            office=self.office, role="staff", user__email="gone@lakeside.example"
        )
        membership.removed_at = timezone.now()
        membership.removed_by = self.admin
        membership.save()
        return membership.user

    @functools.cached_property
    def outsider(self):
        return self._member("boss@hilltop.example", is_admin=True, office=self.other_office)

    @functools.cached_property
    def newcomer(self):
        return self._member("new@lakeside.example", role="staff")

    @functools.cached_property
    def unverified(self):
        user = self._member("half@lakeside.example", role="staff")
        make_authenticator(user)
        return user

    @functools.cached_property
    def support(self):
        return UserFactory(email="support@outsmart.example", is_staff=True, is_superuser=True)

    @functools.cached_property
    def patient(self):
        """A portal account: Olivia's records, and the Smart Form sent to her."""
        from accesscodes.services import access_code_redeem

        user = UserFactory(email="patient@example.net")
        access_code_redeem(
            typed=self.issue(self.olivia).code, date_of_birth=self.olivia.date_of_birth, user=user
        )
        access_code_redeem(
            typed=self.issue(self.olivia, form_request=self.form_request).code, user=user
        )
        return user

    @functools.cached_property
    def invitee(self):
        return UserFactory(email="invitee@example.org")

    @functools.cached_property
    def invitation_for_invitee(self):
        return InvitationFactory(
            office=self.office, email=self.invitee.email, invited_by=self.admin
        )

    def user(self, persona: str):
        return getattr(self, persona)

    # --- records ------------------------------------------------------------------------------
    def _patient(self, first: str, last: str, born: date | None):
        from records.models import Patient

        return Patient.objects.create(
            office=self.office,
            first_name=first,
            last_name=last,
            date_of_birth=born,
            email=f"{first.lower()}@example.net",
            mobile_phone="+14165550100",
        )

    @functools.cached_property
    def olivia(self):
        return self._patient("Olivia", "Brown", date(1984, 5, 2))

    @functools.cached_property
    def noah(self):
        """Olivia's brother: his code is the one typed on Register Here and +Access Code."""
        return self._patient("Noah", "Brown", date(2015, 9, 14))

    @functools.cached_property
    def appointment(self):
        from records.models import Appointment

        return Appointment.objects.create(
            office=self.office,
            patient=self.olivia,
            practitioner=self.practitioner,
            starts_at=timezone.now() + timedelta(days=2),
            duration_minutes=30,
            reason="Check-up",
            created_by=self.staff,
        )

    @functools.cached_property
    def plan(self):
        from records.services.patients import PlanContent, treatment_plan_create

        return treatment_plan_create(
            patient=self.olivia,
            content=PlanContent(title="Physio", body="Stretch daily.", plan_date=date(2026, 3, 1)),
            author=self.practitioner,
            request=None,
        )

    @functools.cached_property
    def smart_form(self):
        """A template with a question of every kind, so answers of every kind are fuzzed."""
        from records.services.smartforms import QuestionContent, SmartFormContent, smart_form_create

        return smart_form_create(
            office=self.office,
            content=SmartFormContent(
                title="Before your visit",
                instructions="Please answer before you come.",
                questions=(
                    QuestionContent("Your occupation", "short_text"),
                    QuestionContent("Describe your symptoms", "long_text"),
                    QuestionContent(
                        "Preferred contact", "single_choice", choices=("Phone", "Email")
                    ),
                    QuestionContent("Which apply?", "multiple_choice", choices=("Fever", "Cough")),
                    QuestionContent("Are you pregnant?", "yes_no"),
                    QuestionContent("Date of your last visit", "date", required=False),
                    QuestionContent("Your weight in kg", "number"),
                ),
            ),
            actor=None,
            request=None,
        )

    def _form_request(self):
        from records.services.smartforms import form_request_create

        return form_request_create(
            office=self.office,
            patient=self.olivia,
            form=self.smart_form,
            actor=self.practitioner,
            request=None,
        )

    @functools.cached_property
    def form_request(self):
        return self._form_request()

    @functools.cached_property
    def link_form_request(self):
        """The Smart Form whose access link `link_visitor` opened."""
        form_request = self._form_request()
        self.link_form_token = token_of(self.issue(self.olivia, form_request=form_request).link)
        return form_request

    def answers(self, form_request) -> list[tuple[str, str]]:
        """Answers that pass, in the shape the form posts."""
        good = {
            "short_text": ["Teacher"],
            "long_text": ["A cough since Monday."],
            "single_choice": ["Phone"],
            "multiple_choice": ["Fever", "Cough"],
            "yes_no": ["no"],
            "date": ["2025-01-31"],
            "number": ["72.5"],
        }
        return [
            (f"q_{q['id']}", value) for q in form_request.questions for value in good[q["kind"]]
        ]

    # --- access codes -------------------------------------------------------------------------
    def issue(self, patient, *, form_request=None, channel="print"):
        from accesscodes.services import access_code_issue

        return access_code_issue(
            office=self.office,
            patient=patient,
            kind="smart_form" if form_request else "medical_records",
            actor=self.practitioner,
            channel=channel,
            address=patient.email if channel == "email" else "",
            form_request=form_request,
        )

    @functools.cached_property
    def noah_code(self):
        """An active medical-records code of Noah's: its words are typed in the fuzzed forms."""
        return self.issue(self.noah)

    @functools.cached_property
    def olivia_code(self):
        """An active code the clinic can cancel and reissue."""
        return self.issue(self.olivia, channel="email").access_code

    @functools.cached_property
    def records_link_token(self):
        """A medical-records access link of Noah's, opened before its date-of-birth step."""
        return token_of(self.issue(self.noah, channel="email").link)

    # --- documents ----------------------------------------------------------------------------
    @functools.cached_property
    def document(self):
        from records.services.documents import document_upload

        from .fuzz_inputs import PDF

        return document_upload(
            office=self.office,
            patient=self.olivia,
            upload=SimpleUploadedFile("scan.pdf", PDF, content_type="application/pdf"),
            title="Blood test",
            document_date=date(2026, 3, 10),
            actor=self.practitioner,
        )

    # --- invitations --------------------------------------------------------------------------
    @functools.cached_property
    def pending_invitation(self):
        return InvitationFactory(office=self.office, email="pending@example.com")

    @functools.cached_property
    def open_invitation(self):
        """An invitation to an address without an account: its link registers one."""
        return InvitationFactory(office=self.office, email="newhire@example.com")

    @functools.cached_property
    def taken_invitation(self):
        """An invitation to an address another account already uses: "request a review"."""
        UserFactory(email="shared@example.com")
        return InvitationFactory(office=self.office, email="shared@example.com")

    @functools.cached_property
    def review_request(self):
        from invitations.services import review_request_create

        return review_request_create(
            invitation=self.taken_invitation,
            contact_email="me@example.org",
            note="Shared mailbox.",
            request=None,
        )

    # --- allauth keys -------------------------------------------------------------------------
    @functools.cached_property
    def reset_uidb36(self):
        from allauth.account.utils import user_pk_to_url_str

        return user_pk_to_url_str(self.patient)

    @functools.cached_property
    def reset_key(self):
        from allauth.account.forms import default_token_generator

        return default_token_generator.make_token(self.patient)

    @functools.cached_property
    def email_confirmation_key(self):
        from allauth.account.models import EmailAddress, EmailConfirmationHMAC

        address = EmailAddress.objects.create(
            user=self.patient, email="second@example.net", verified=False, primary=False
        )
        return EmailConfirmationHMAC(address).key

    # --- sessions -----------------------------------------------------------------------------
    def cookies(self, persona: str, prepare=None) -> SimpleCookie:
        """The cookies of a browser logged in as `persona` (after `prepare(client, world)`)."""
        client = Client()
        if persona == "link_visitor":
            client.get(reverse("access_link", args=[self.link_form_token_value]))
        elif persona != "anonymous":
            user = self.user(persona)
            client.force_login(user)
            if persona in VERIFIED:
                from django_otp import DEVICE_ID_SESSION_KEY

                device = make_authenticator(user)
                session = client.session
                session[DEVICE_ID_SESSION_KEY] = device.persistent_id
                session.save()
        if prepare is not None:
            prepare(client, self)
        # The CSRF check runs as in a browser: the cookie here, the token in a header.
        client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
        return client.cookies

    @property
    def link_form_token_value(self) -> str:
        self.link_form_request  # noqa: B018 (made on first use)
        return self.link_form_token


__all__ = ["CLINIC", "CLINIC_INTRUDERS", "CSRF_SECRET", "PASSWORD", "World"]
