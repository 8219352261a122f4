"""The world the permission matrices run in: two clinics, their people, three patients with
data, portal accounts holding grants made the real way, invitations and access links.

Lakeside (the personas' office): admin, practitioner, staff, a removed member; patients
Olivia Quillfeather and Noah Bramblewood. Hilltop (another office): its admin (the outsider),
patient Hana Thistledown. Portal accounts: `patient` sees Olivia's records, `other_patient`
sees Noah's, `hilltop_patient` sees Hana's; `revoked_patient` saw Olivia's until they removed
that access. `link_visitor` is a browser without an account that opened the access link of
Olivia's Smart Form.

Every patient's last name and document title is a marker: a page served to someone who may
not see that patient must not contain it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from django.test import Client

from outsmart.tokens import TOKEN_LENGTH, new_link_token
from tests.conftest import make_authenticator
from tests.factories import InvitationFactory, UserFactory

PERSONAS = [
    "admin",
    "practitioner",
    "staff",
    "removed_member",
    "outsider",
    "patient",
    "other_patient",
    "revoked_patient",
    "link_visitor",
    "support",
    "anonymous",
]
# People who log in with a verified second factor, as the two-factor gate makes them.
VERIFIED = {"admin", "practitioner", "staff", "removed_member", "outsider", "support"}

# Markers of each patient's data (last name, document title), and who may see them.
MARKERS = {
    "olivia": ("Quillfeather", "Quillfeather bloodwork"),
    "noah": ("Bramblewood", "Bramblewood x-ray"),
    "hana": ("Thistledown", "Thistledown scan"),
}
_ALL = {"olivia", "noah", "hana"}
MAY_SEE = {
    "admin": {"olivia", "noah"},
    "practitioner": {"olivia", "noah"},
    "staff": {"olivia", "noah"},
    "removed_member": set(),
    "outsider": {"hana"},
    "patient": {"olivia"},
    "other_patient": {"noah"},
    "revoked_patient": set(),
    "link_visitor": set(),
    "support": _ALL,  # the support admin shows every office
    "anonymous": set(),
    "support_password_only": set(),  # support before the second factor
}
# Whoever holds a Smart Form link sees whose form it is ("for Olivia Quillfeather"), and
# nothing else of that patient; an account whose grant was removed still finds it, by name,
# under the removed ones on My access.
MAY_SEE_NAMES = {"link_visitor": {"olivia"}, "revoked_patient": {"olivia"}}


@dataclass
class World:
    users: dict = field(default_factory=dict)
    offices: dict = field(default_factory=dict)
    patients: dict = field(default_factory=dict)
    documents: dict = field(default_factory=dict)
    form_requests: dict = field(default_factory=dict)
    grants: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)
    invitations: dict = field(default_factory=dict)
    invitation_tokens: dict = field(default_factory=dict)
    link_tokens: dict = field(default_factory=dict)
    devices: dict = field(default_factory=dict)
    form_link_code_id: int | None = None

    def client(self, persona: str) -> Client:
        """A fresh browser for `persona`, from an address of its own (rate limits count per
        address, and these are different people)."""
        number = PERSONAS.index(persona) + 10
        client = Client(REMOTE_ADDR=f"198.51.100.{number}")
        if persona == "anonymous":
            return client
        if persona == "link_visitor":
            from portal.access import FORM_CODES_KEY

            session = client.session
            session[FORM_CODES_KEY] = [self.form_link_code_id]
            session.save()
            return client
        user = self.users[persona]
        client.force_login(user)
        if persona in VERIFIED:
            from django_otp import DEVICE_ID_SESSION_KEY

            session = client.session
            session[DEVICE_ID_SESSION_KEY] = self.devices[persona]
            session.save()
        return client

    def forbidden_markers(self, persona: str) -> list[str]:
        """The markers of patients `persona` may not see: in no page served to them."""
        forbidden = []
        for key, (name, document) in MARKERS.items():
            if key in MAY_SEE[persona]:
                continue
            if key not in MAY_SEE_NAMES.get(persona, set()):
                forbidden.append(name)
            forbidden.append(document)
        return forbidden

    def placeholders(self) -> dict[str, int]:
        """Ids an expected redirect may name: {olivia_form} and the like."""
        return {f"{key}_form": row.pk for key, row in self.form_requests.items()}


def _patient(office, first: str, key: str, born: date):
    from records.models import Patient

    return Patient.objects.create(
        office=office,
        first_name=first,
        last_name=MARKERS[key][0],
        date_of_birth=born,
        email=f"{first.lower()}@example.net",
    )


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def build_world(*, admin, practitioner, staff, removed_member, outsider, patient, support):
    """Everything the matrices need, made through the services as the product makes it."""
    from accesscodes.services import access_code_issue, access_code_redeem
    from portal.services import portal_access_remove
    from tests.portal.conftest import add_document, grant_records, issue_form_code, send_form

    world = World()
    lakeside = admin.memberships.get().office
    hilltop = outsider.memberships.get().office
    world.offices = {"lakeside": lakeside, "hilltop": hilltop}
    other_patient = UserFactory(email="other.patient@example.net")
    hilltop_patient = UserFactory(email="hilltop.patient@example.net")
    revoked_patient = UserFactory(email="former.patient@example.net")
    world.users = {
        "admin": admin,
        "practitioner": practitioner,
        "staff": staff,
        "removed_member": removed_member,
        "outsider": outsider,
        "patient": patient,
        "other_patient": other_patient,
        "hilltop_patient": hilltop_patient,
        "revoked_patient": revoked_patient,
        "support": support,
    }
    world.devices = {p: make_authenticator(world.users[p]).persistent_id for p in VERIFIED}

    world.patients = {
        "olivia": _patient(lakeside, "Olivia", "olivia", date(1984, 5, 2)),
        "noah": _patient(lakeside, "Noah", "noah", date(1990, 1, 15)),
        "hana": _patient(hilltop, "Hana", "hana", date(1979, 11, 30)),
    }
    for key, person in world.patients.items():
        world.documents[key] = add_document(person, title=MARKERS[key][1])
        world.form_requests[key] = send_form(person)
    world.grants = {
        "olivia": grant_records(patient, world.patients["olivia"]),
        "noah": grant_records(other_patient, world.patients["noah"]),
        "hana": grant_records(hilltop_patient, world.patients["hana"]),
    }
    portal_access_remove(
        grant=grant_records(revoked_patient, world.patients["olivia"]), user=revoked_patient
    )
    # The Smart Form link the link visitor opened (its code id is in that browser's session).
    issued = issue_form_code(world.form_requests["olivia"])
    world.link_tokens["form"] = token_of(issued.link)
    redemption = access_code_redeem(token=world.link_tokens["form"], user=None)
    world.form_link_code_id = redemption.access_code.pk
    # A records link for Olivia, still unused.
    olivia = world.patients["olivia"]
    world.codes["olivia"] = access_code_issue(
        office=lakeside, patient=olivia, kind="medical_records", actor=admin, channel="print"
    )
    world.link_tokens["records"] = token_of(world.codes["olivia"].link)
    world.link_tokens["unknown"] = new_link_token()
    world.link_tokens["malformed"] = "not-a-token"

    # Lakeside invites Hilltop's admin (an address with an account); Hilltop invites a new
    # person (an address without one).
    world.invitations = {
        "to_outsider": InvitationFactory(office=lakeside, email=outsider.email, invited_by=admin),
        "hilltop": InvitationFactory(
            office=hilltop, email="newhire@hilltop.example", invited_by=outsider
        ),
    }
    world.invitation_tokens = {
        "account_exists": world.invitations["to_outsider"].token,
        "no_account": world.invitations["hilltop"].token,
        "unknown": secrets.token_urlsafe(TOKEN_LENGTH)[:TOKEN_LENGTH],
        "malformed": "not-a-token",
    }
    return world


# What a refused request must leave as it was: every row of the product's own tables (the
# audit log aside: a refusal may be recorded).
SNAPSHOT_APPS = {"accounts", "account", "otp_totp", "offices", "invitations", "records"}
SNAPSHOT_APPS |= {"accesscodes", "portal", "emails"}  # emails: nothing queued either


def snapshot() -> dict[str, list[tuple]]:
    from django.apps import apps

    return {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.app_label in SNAPSHOT_APPS
    }


def missing_id() -> int:
    """An id no row has: larger than any id in use."""
    return 2_000_000_000


_VARYING = [
    re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'),
    re.compile(r'nonce="[^"]*"'),
]


def normalized(body: bytes, url: str) -> str:
    """A page with what legitimately differs between two requests taken out (CSRF token,
    CSP nonce, the page's own address), to compare two "not found" pages."""
    text = body.decode()
    for pattern in _VARYING:
        text = pattern.sub("", text)
    return text.replace(url, "<url>")


__all__ = [
    "MARKERS",
    "PERSONAS",
    "World",
    "build_world",
    "missing_id",
    "normalized",
    "snapshot",
]
