import functools
from datetime import timedelta

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from offices.models import Membership, Office, Role
from outsmart.accounts.models import User
from outsmart.tokens import new_nonce

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    # Argon2 is slow on purpose; hash the shared test password once, not once per user.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.LazyFunction(password_hash)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)
            self.save()


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office

    name = factory.Sequence(lambda n: f"Clinic {n}")
    address = "1 Main Street"
    phone = "+1 416 555 0100"
    time_zone = "America/Toronto"
    require_two_factor = True
    setup_completed_at = factory.LazyFunction(timezone.now)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    office = factory.SubFactory(OfficeFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.PRACTITIONER
    is_admin = False


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation whose email went out; `.token` gives its link token."""

    class Meta:
        model = "invitations.Invitation"

    office = factory.SubFactory(OfficeFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.STAFF
    invited_by = None
    token_nonce = factory.LazyFunction(new_nonce)
    token_digest = factory.LazyAttribute(lambda o: _invitation_digest(o.token_nonce))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))
    delivery_state = "sent"
    delivery_attempts = 1
    sent_at = factory.LazyFunction(timezone.now)


def _invitation_digest(nonce: str) -> str:
    from invitations.models import TOKEN_PURPOSE, token_digest
    from outsmart.tokens import derived_token

    return token_digest(derived_token(TOKEN_PURPOSE, nonce))


# --- records: patients ---
class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "records.Patient"

    office = factory.SubFactory(OfficeFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=1, maximum_age=95)
    email = factory.LazyAttribute(lambda p: f"{p.first_name}.{p.last_name}@example.net".lower())
    mobile_phone = "+14165550100"


# --- access codes ---
def form_request_for(patient, actor=None):
    """A pending FormRequest of the office's "New patient intake" form, sent to `patient`."""
    from records.services.smartforms import form_request_create, smart_forms_install_defaults

    form = smart_forms_install_defaults(office=patient.office)
    return form_request_create(
        office=patient.office, patient=patient, form=form, actor=actor, request=None
    )


def issue_code(
    *,
    patient,
    actor=None,
    kind="medical_records",
    channel="phone",
    address="",
    form_request=None,
    **kwargs,
):
    """Issue an access code through the service, as the patient page does, and return its
    `Issued` (the only place the plain code and link exist). The actor defaults to a new
    practitioner of the patient's office; a Smart Form code gets a new FormRequest."""
    from accesscodes.services import access_code_issue

    if actor is None:
        actor = MembershipFactory(office=patient.office, role=Role.PRACTITIONER).user
    if kind == "smart_form" and form_request is None:
        form_request = form_request_for(patient, actor)
    return access_code_issue(
        office=patient.office,
        patient=patient,
        kind=kind,
        actor=actor,
        channel=channel,
        address=address,
        form_request=form_request,
        **kwargs,
    )
