"""Every clinic URL x every persona. A new clinic view without a row here fails the suite."""

from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY

from tests.conftest import make_authenticator

pytestmark = pytest.mark.django_db

CLINIC_NAMESPACES = {"offices", "records", "invitations", "accesscodes"}
PERSONAS = [
    "admin",
    "practitioner",
    "staff",
    "removed_member",
    "outsider",
    "patient",
    "portal_patient",
    "support",
    "anonymous",
]

# GET status per persona, in PERSONAS order. 302 for anonymous is the login redirect;
# 403 for people without an office (a patient, a patient whose portal account sees a Lakeside
# patient's records, a support operator); 404 for another office's objects.
EXPECTED = {
    "offices:detail": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "offices:edit": [200, 403, 403, 403, 200, 403, 403, 403, 302],
    "offices:team": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "offices:remove": [200, 403, 403, 403, 404, 403, 403, 403, 302],
    "offices:leave": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "offices:activity": [200, 403, 403, 403, 200, 403, 403, 403, 302],
    "offices:switch": [405, 405, 405, 403, 405, 403, 403, 403, 302],
    "records:schedule": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "invitations:create": [200, 403, 403, 403, 200, 403, 403, 403, 302],
    "invitations:resend": [405, 403, 403, 403, 405, 403, 403, 403, 302],
    "invitations:revoke": [405, 403, 403, 403, 405, 403, 403, 403, 302],
    "records:patients": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "records:patient_create": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "records:patient": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:patient_edit": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:treatment_plan_create": [200, 200, 403, 403, 404, 403, 403, 403, 302],
    "records:treatment_plan_edit": [200, 200, 403, 403, 404, 403, 403, 403, 302],
    "records:treatment_plan_history": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:document_upload": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:document_download": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:appointment_create": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "records:appointment_edit": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:appointment_cancel": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:smartforms": [200, 200, 200, 403, 200, 403, 403, 403, 302],
    "records:smartform_create": [200, 200, 403, 403, 200, 403, 403, 403, 302],
    "records:smartform_detail": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "records:smartform_edit": [200, 200, 403, 403, 404, 403, 403, 403, 302],
    "records:form_request_create": [405, 405, 405, 403, 405, 403, 403, 403, 302],
    "records:form_request_detail": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    # Staff send Smart Forms but do not give access to medical records: the code here is a
    # medical-records code, so they get 403 (tests/accesscodes covers their Smart Form codes).
    "accesscodes:issue_medical_records": [200, 200, 403, 403, 404, 403, 403, 403, 302],
    "accesscodes:send_smart_form": [200, 200, 200, 403, 404, 403, 403, 403, 302],
    "accesscodes:cancel": [200, 200, 403, 403, 404, 403, 403, 403, 302],
    "accesscodes:reissue": [200, 200, 403, 403, 404, 403, 403, 403, 302],
}


def _patient(office, user):
    from tests.factories import PatientFactory

    return PatientFactory(office=office)


def _plan(office, user):
    from records.models import TreatmentPlan

    return TreatmentPlan.objects.create(
        office=office,
        patient=_patient(office, user),
        title="Plan",
        body="Rest.",
        plan_date="2026-11-20",
        author=user,
    )


def _document(office, user):
    from django.core.files.base import ContentFile

    from records.models import Document

    document = Document(
        office=office,
        patient=_patient(office, user),
        title="Referral",
        document_date="2026-11-20",
        original_name="referral.pdf",
        content_type="application/pdf",
        size=20,
        uploaded_by=user,
    )
    document.file.save("referral.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=True)
    return document


def _appointment(office, user):
    from datetime import timedelta

    from django.utils import timezone

    from records.models import Appointment

    practitioner = office.memberships.filter(role="practitioner").first().user
    return Appointment.objects.create(
        office=office,
        patient=_patient(office, user),
        practitioner=practitioner,
        starts_at=timezone.now() + timedelta(days=1),
        duration_minutes=30,
        created_by=user,
    )


def _smart_form(office):
    from records.services.smartforms import smart_forms_install_defaults

    smart_forms_install_defaults(office=office)
    return office.smart_forms.get()


def _form_request(office, user):
    from records.services.smartforms import form_request_create

    return form_request_create(
        office=office,
        patient=_patient(office, user),
        form=_smart_form(office),
        actor=user,
        request=None,
    )


def _medical_records_code(office, user):
    from accesscodes.services import access_code_issue

    patient = _patient(office, user)
    return access_code_issue(
        office=office, patient=patient, kind="medical_records", actor=user, channel="phone"
    ).access_code


# URL kwargs naming an object of the personas' office (Lakeside); the outsider's office is
# another, so for them every such URL must answer 404.
OBJECT_KWARGS = {
    "records:patient": lambda office, user: {"patient_id": _patient(office, user).pk},
    "records:patient_edit": lambda office, user: {"patient_id": _patient(office, user).pk},
    "records:treatment_plan_create": lambda office, user: {"patient_id": _patient(office, user).pk},
    "records:treatment_plan_edit": lambda office, user: {"plan_id": _plan(office, user).pk},
    "records:treatment_plan_history": lambda office, user: {"plan_id": _plan(office, user).pk},
    "records:document_upload": lambda office, user: {"patient_id": _patient(office, user).pk},
    "records:document_download": lambda office, user: {"document_id": _document(office, user).pk},
    "records:appointment_edit": lambda office, user: {
        "appointment_id": _appointment(office, user).pk
    },
    "records:appointment_cancel": lambda office, user: {
        "appointment_id": _appointment(office, user).pk
    },
    "records:smartform_detail": lambda office, user: {"form_id": _smart_form(office).pk},
    "records:smartform_edit": lambda office, user: {"form_id": _smart_form(office).pk},
    "records:form_request_create": lambda office, user: {"patient_id": _patient(office, user).pk},
    "records:form_request_detail": lambda office, user: {
        "request_id": _form_request(office, user).pk
    },
    "accesscodes:issue_medical_records": lambda office, user: {
        "patient_id": _patient(office, user).pk
    },
    "accesscodes:send_smart_form": lambda office, user: {"patient_id": _patient(office, user).pk},
    "accesscodes:cancel": lambda office, user: {"code_id": _medical_records_code(office, user).pk},
    "accesscodes:reissue": lambda office, user: {"code_id": _medical_records_code(office, user).pk},
}


def clinic_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from clinic_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and namespace in CLINIC_NAMESPACES and entry.name:
            yield f"{namespace}:{entry.name}", entry.callback


def test_every_clinic_url_has_a_row_and_goes_through_the_access_rule():
    found = dict(clinic_patterns())
    assert set(found) == set(EXPECTED), "add the new clinic view to EXPECTED"
    for name, callback in found.items():
        assert hasattr(callback, "office_permission"), f"{name} is not wrapped in office_view"


# A Lakeside patient's last name: only Lakeside's active members may see it on a clinic page.
LAKESIDE_MARKER = "Quillfeather"
SEES_LAKESIDE = {"admin", "practitioner", "staff"}


@pytest.fixture
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }


@pytest.fixture
def everyone(
    admin, practitioner, staff, removed_member, outsider, patient, support, private_storage
):
    """The personas, each with the second factor they would have verified (a patient's portal
    account has none), and a Lakeside patient whose records the portal patient sees."""
    from datetime import date

    from records.models import Patient
    from tests.factories import UserFactory
    from tests.portal.conftest import grant_records

    olivia = Patient.objects.create(
        office=admin.memberships.get().office,
        first_name="Olivia",
        last_name=LAKESIDE_MARKER,
        date_of_birth=date(1984, 5, 2),
        email="olivia@example.net",
    )
    portal_patient = UserFactory(email="olivia.portal@example.net")
    grant_records(portal_patient, olivia)
    users = {
        "admin": admin,
        "practitioner": practitioner,
        "staff": staff,
        "removed_member": removed_member,
        "outsider": outsider,
        "patient": patient,
        "portal_patient": portal_patient,
        "support": support,
    }
    devices = {
        persona: make_authenticator(user).persistent_id
        for persona, user in users.items()
        if persona != "portal_patient"
    }
    return SimpleNamespace(users=users, devices=devices)


def browser(everyone, persona: str) -> Client:
    client = Client()
    if persona == "anonymous":
        return client
    client.force_login(everyone.users[persona])
    if persona in everyone.devices:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = everyone.devices[persona]
        session.save()
    return client


def url_kwargs(name: str, office, user) -> dict:
    """The URL's kwargs, naming objects of `office` (made by `user`, one of its members)."""
    if name == "offices:remove":
        return {"membership_id": user.memberships.get(office=office).pk}
    if name in OBJECT_KWARGS:
        return OBJECT_KWARGS[name](office, user)
    if name == "invitations:create":
        return {"role": "staff"}
    if name in ("invitations:resend", "invitations:revoke"):
        from tests.factories import InvitationFactory

        return {"invitation_id": InvitationFactory(office=office).pk}
    return {}


def body_of(response) -> str:
    return "" if response.streaming else response.content.decode(errors="replace")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_permission_matrix(name, everyone, staff):
    url = reverse(name, kwargs=url_kwargs(name, staff.memberships.get().office, staff))
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        response = browser(everyone, persona).get(url)
        status = response.status_code
        assert status == expected, f"{name} as {persona}: {status}, expected {expected}"
        if status == 302:
            assert response["Location"].startswith("/accounts/login/?next="), response["Location"]
        if status == 200:  # clinic pages hold office and patient data: never cached
            assert "no-store" in response["Cache-Control"], f"{name} may be cached"
        if persona not in SEES_LAKESIDE:
            assert LAKESIDE_MARKER not in body_of(response), f"{name} shows Lakeside to {persona}"


# What a POST answers where the GET cannot tell (405: the view takes POSTs only): the office
# check passed, so another office's object is not found. None: the person's own office, where
# the POST would act (the feature tests cover that).
POST_EXPECTED = {
    "invitations:resend": {"outsider": 404},
    "invitations:revoke": {"outsider": 404},
    "records:form_request_create": {"outsider": 404},
    # Switching to Hilltop: not an office of Lakeside's people; the outsider's own.
    "offices:switch": {"admin": 404, "practitioner": 404, "staff": 404, "outsider": None},
    # A download is a GET: a POST is refused whatever the id (so it tells nothing either).
    "records:document_download": dict.fromkeys(("admin", "practitioner", "staff", "outsider"), 405),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_refused_posts_change_nothing(name, everyone, staff, other_office):
    """Everyone refused a page is refused its POST too, before the form is read, and nothing
    changes (the audit log aside: a refused change is recorded)."""
    from tests.security.matrix_world import snapshot

    url = reverse(name, kwargs=url_kwargs(name, staff.memberships.get().office, staff))
    data = {"office": other_office.pk} if name == "offices:switch" else {}
    for persona, get_status in zip(PERSONAS, EXPECTED[name], strict=True):
        expected = POST_EXPECTED.get(name, {}).get(persona, get_status)
        if expected not in (302, 403, 404) and persona not in POST_EXPECTED.get(name, {}):
            continue  # the person may use this page: their POST acts
        if expected is None:
            continue
        client = browser(everyone, persona)
        before = snapshot()
        response = client.post(url, data)
        assert response.status_code == expected, f"POST {name} as {persona}"
        if expected == 302:
            assert response["Location"].startswith("/accounts/login/?next=")
        assert snapshot() == before, f"POST {name} as {persona} changed data"


OBJECT_URLS = sorted({*OBJECT_KWARGS, "offices:remove", "invitations:resend", "invitations:revoke"})


@pytest.mark.parametrize("name", OBJECT_URLS)
def test_another_offices_object_is_not_found_like_a_missing_one(
    name, everyone, staff, other_office, outsider
):
    """No existence oracle: Lakeside's admin asking for a Hilltop object (an id that exists)
    gets exactly the page of an id that does not, by GET and by POST, and nothing changes."""
    from tests.security.matrix_world import missing_id, normalized, snapshot

    foreign = reverse(name, kwargs=url_kwargs(name, other_office, outsider))
    kwargs = url_kwargs(name, other_office, outsider)
    missing = reverse(name, kwargs=dict.fromkeys(kwargs, missing_id()))
    client = browser(everyone, "admin")
    for method in ("get", "post"):
        before = snapshot()
        found = getattr(client, method)(foreign)
        not_found = getattr(client, method)(missing)
        if not_found.status_code == 405:  # the view takes the other method only
            assert found.status_code == 405, f"{method} {name}"
            continue
        assert found.status_code == not_found.status_code == 404, f"{method} {name}"
        assert found["Content-Type"] == not_found["Content-Type"]
        assert normalized(found.content, foreign) == normalized(not_found.content, missing)
        assert snapshot() == before, f"{method.upper()} {name} changed data"


def test_ids_of_another_office_in_a_form_are_refused(everyone, staff, other_office, outsider):
    """Ids in a form's fields, not only in the address: Hilltop's Smart Form, patient or
    practitioner posted to a Lakeside form is "not one of this office's", and nothing is
    stored; in a query string it is ignored."""
    from datetime import timedelta

    from django.utils import timezone

    from accesscodes.forms import issue_key_new
    from records.models import Patient
    from tests.security.matrix_world import snapshot

    office = staff.memberships.get().office
    lakeside_patient = Patient.objects.get(office=office, last_name=LAKESIDE_MARKER)
    hilltop_form = _smart_form(other_office)
    hilltop_patient = _patient(other_office, outsider)
    hilltop_patient.last_name = "Thistledown"
    hilltop_patient.save()
    outsider.last_name = "Marchbanks"
    outsider.save()
    _smart_form(office)  # Lakeside has Smart Forms of its own to choose from
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    posts = [
        (
            reverse("records:form_request_create", args=[lakeside_patient.pk]),
            {"form": hilltop_form.pk},
            "Choose one of this office&#x27;s active Smart Forms.",
        ),
        (
            reverse("accesscodes:send_smart_form", args=[lakeside_patient.pk]),
            {"smart_form": hilltop_form.pk, "channel": "print", "issue_key": issue_key_new()},
            "Choose one of this office&#x27;s active Smart Forms.",
        ),
        (
            reverse("records:appointment_create"),
            {
                "patient": hilltop_patient.pk,
                "practitioner": everyone.users["practitioner"].pk,
                "date": tomorrow,
                "start_time": "09:00",
                "duration_minutes": 30,
            },
            "Choose a patient of this office.",
        ),
        (
            reverse("records:appointment_create"),
            {
                "patient": lakeside_patient.pk,
                "practitioner": outsider.pk,
                "date": tomorrow,
                "start_time": "09:00",
                "duration_minutes": 30,
            },
            "Choose one of this office&#x27;s practitioners.",
        ),
    ]
    client = browser(everyone, "admin")
    for url, data, message in posts:
        before = snapshot()
        response = client.post(url, data)
        assert response.status_code == 400, url
        assert message in response.content.decode(), url
        assert snapshot() == before, f"POST {url} stored something"
    query = f"?patient={hilltop_patient.pk}&practitioner={outsider.pk}"
    for url in (reverse("records:appointment_create"), reverse("records:schedule")):
        response = client.get(url + query)
        assert response.status_code == 200
        body = response.content.decode()
        assert hilltop_patient.last_name not in body
        assert outsider.last_name not in body
