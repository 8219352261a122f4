"""Demo data for `make run`: one office and its people, created idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from offices.models import Membership, Office, Role
from outsmart.accounts.models import User

DEMO_PASSWORD = "demo-outsmart-2026"  # noqa: S105 - published on purpose, demo only
DEMO_OFFICE = "Riverside Family Clinic"


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    role: str | None = None
    is_admin: bool = False
    removed: bool = False


PEOPLE = [
    Person("admin@riverside.example", "Amelia", "Hart", Role.PRACTITIONER, is_admin=True),
    Person("dr.chen@riverside.example", "Daniel", "Chen", Role.PRACTITIONER),
    Person("dr.okafor@riverside.example", "Ngozi", "Okafor", Role.PRACTITIONER),
    Person("frontdesk@riverside.example", "Maria", "Lopez", Role.STAFF),
    Person("billing@riverside.example", "Tom", "Becker", Role.STAFF),
    Person("scheduling@riverside.example", "Priya", "Nair", Role.STAFF),
    Person("former.staff@riverside.example", "Sam", "Reed", Role.STAFF, removed=True),
    Person("patient@riverside.example", "Olivia", "Brown"),
]

# Pending invitations, so the Practitioners and Staff tab and the outbox show the flow; their
# emails (with the registration links) are in the development outbox.
INVITEES = [
    ("grace.kim@riverside.example", "Grace Kim", Role.PRACTITIONER),
    ("new.frontdesk@riverside.example", "", Role.STAFF),
]


def _user(person: Person) -> User:
    user = User.objects.filter(email__iexact=person.email).first()
    if user is None:
        user = User.objects.create_user(
            email=person.email,
            password=DEMO_PASSWORD,
            first_name=person.first_name,
            last_name=person.last_name,
        )
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed_demo() -> tuple[Office, list[Person]]:
    office, _ = Office.objects.get_or_create(
        name=DEMO_OFFICE,
        defaults={
            "address": "120 River Street, Suite 4\nToronto, ON M5V 2T6",
            "phone": "+1 416 555 0134",
            "time_zone": "America/Toronto",
            # The demo office lets the printed logins work with a password alone;
            # every real office requires two-factor by default.
            "require_two_factor": False,
            "setup_completed_at": timezone.now(),
        },
    )
    admin_user = None
    for person in PEOPLE:
        user = _user(person)
        if person.role is None:
            continue
        if person.is_admin:
            admin_user = user
        if Membership.objects.filter(office=office, user=user).exists():
            continue
        membership = Membership.objects.create(
            office=office, user=user, role=person.role, is_admin=person.is_admin
        )
        if person.removed:
            membership.removed_at = timezone.now()
            membership.removed_by = admin_user
            membership.save(update_fields=["removed_at", "removed_by"])
    _invite(office, admin_user)
    _records(office, admin_user)
    _portal(office)
    return office, PEOPLE


def _records(office: Office, admin_user: User) -> None:
    from outsmart.devtools.demo_documents import seed_documents
    from outsmart.devtools.demo_patients import seed_patients
    from outsmart.devtools.demo_schedule import seed_schedule
    from outsmart.devtools.demo_smartforms import seed_form_requests

    patients = seed_patients(office, admin_user)
    practitioners = [
        m.user
        for m in Membership.objects.active()
        .filter(office=office, role=Role.PRACTITIONER)
        .select_related("user")
    ]
    seed_schedule(office, patients, practitioners)
    seed_form_requests(office, patients, admin_user)
    seed_documents(office, patients, admin_user)


def _invite(office: Office, admin_user: User) -> None:
    from invitations.models import Invitation
    from invitations.services import invitation_create

    for email, name, role in INVITEES:
        if Invitation.objects.filter(office=office, email__iexact=email).exists():
            continue
        invitation_create(
            office=office,
            email=email,
            role=role,
            name=name,
            message="Welcome to the team! Register through this link and approve the invitation.",
            invited_by=admin_user,
            enforce_limits=False,
        )


def _portal(office: Office) -> None:
    """The demo patient's portal account sees Olivia Brown's records, connected the way a real
    patient's are: a practitioner issues a Medical Records Access Code, the patient redeems it."""
    from accesscodes.services import access_code_issue, access_code_redeem
    from portal.models import PortalAccess
    from records.models import Patient

    user = User.objects.get(email__iexact="patient@riverside.example")
    if PortalAccess.objects.filter(user=user).exists():
        return
    chart = Patient.objects.filter(office=office, email__iexact=user.email).first()
    practitioner = User.objects.get(email__iexact="dr.chen@riverside.example")
    if chart is None or chart.date_of_birth is None:
        return
    issued = access_code_issue(
        office=office, patient=chart, kind="medical_records", actor=practitioner, channel="phone"
    )
    access_code_redeem(code_id=issued.access_code.pk, date_of_birth=chart.date_of_birth, user=user)
