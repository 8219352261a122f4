"""Every clinic URL x every persona. A new clinic view without a row here fails the suite."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_authenticator

pytestmark = pytest.mark.django_db

CLINIC_NAMESPACES = {"offices", "records", "invitations", "accesscodes"}
PERSONAS = ["admin", "practitioner", "staff", "removed_member", "outsider", "patient", "anonymous"]

# GET status per persona, in PERSONAS order. 302 for anonymous is the login redirect;
# 403 for people without an office; 404 for another office's objects.
EXPECTED = {
    "offices:detail": [200, 200, 200, 403, 200, 403, 302],
    "offices:edit": [200, 403, 403, 403, 200, 403, 302],
    "offices:team": [200, 200, 200, 403, 200, 403, 302],
    "offices:remove": [200, 403, 403, 403, 404, 403, 302],
    "offices:leave": [200, 200, 200, 403, 200, 403, 302],
    "offices:activity": [200, 403, 403, 403, 200, 403, 302],
    "offices:switch": [405, 405, 405, 403, 405, 403, 302],
    "records:schedule": [200, 200, 200, 403, 200, 403, 302],
    "invitations:create": [200, 403, 403, 403, 200, 403, 302],
    "invitations:resend": [405, 403, 403, 403, 405, 403, 302],
    "invitations:revoke": [405, 403, 403, 403, 405, 403, 302],
    "records:patients": [200, 200, 200, 403, 200, 403, 302],
    "records:patient_create": [200, 200, 200, 403, 200, 403, 302],
    "records:patient": [200, 200, 200, 403, 404, 403, 302],
    "records:patient_edit": [200, 200, 200, 403, 404, 403, 302],
    "records:treatment_plan_create": [200, 200, 403, 403, 404, 403, 302],
    "records:treatment_plan_edit": [200, 200, 403, 403, 404, 403, 302],
    "records:treatment_plan_history": [200, 200, 200, 403, 404, 403, 302],
    "records:document_upload": [200, 200, 200, 403, 404, 403, 302],
    "records:document_download": [200, 200, 200, 403, 404, 403, 302],
    "records:appointment_create": [200, 200, 200, 403, 200, 403, 302],
    "records:appointment_edit": [200, 200, 200, 403, 404, 403, 302],
    "records:appointment_cancel": [200, 200, 200, 403, 404, 403, 302],
    "records:smartforms": [200, 200, 200, 403, 200, 403, 302],
    "records:smartform_create": [200, 200, 403, 403, 200, 403, 302],
    "records:smartform_detail": [200, 200, 200, 403, 404, 403, 302],
    "records:smartform_edit": [200, 200, 403, 403, 404, 403, 302],
    "records:form_request_create": [405, 405, 405, 403, 405, 403, 302],
    "records:form_request_detail": [200, 200, 200, 403, 404, 403, 302],
    # Staff send Smart Forms but do not give access to medical records: the code here is a
    # medical-records code, so they get 403 (tests/accesscodes covers their Smart Form codes).
    "accesscodes:issue_medical_records": [200, 200, 403, 403, 404, 403, 302],
    "accesscodes:send_smart_form": [200, 200, 200, 403, 404, 403, 302],
    "accesscodes:cancel": [200, 200, 403, 403, 404, 403, 302],
    "accesscodes:reissue": [200, 200, 403, 403, 404, 403, 302],
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


@pytest.fixture
def everyone(request, admin, practitioner, staff, removed_member, outsider, patient):
    return {
        "admin": admin,
        "practitioner": practitioner,
        "staff": staff,
        "removed_member": removed_member,
        "outsider": outsider,
        "patient": patient,
    }


@pytest.fixture
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_permission_matrix(name, everyone, client, staff, private_storage):
    kwargs = {}
    if name == "offices:remove":
        kwargs = {"membership_id": staff.memberships.get().pk}
    elif name in OBJECT_KWARGS:
        kwargs = OBJECT_KWARGS[name](staff.memberships.get().office, staff)
    elif name == "invitations:create":
        kwargs = {"role": "staff"}
    elif name in ("invitations:resend", "invitations:revoke"):
        from tests.factories import InvitationFactory

        kwargs = {"invitation_id": InvitationFactory(office=staff.memberships.get().office).pk}
    url = reverse(name, kwargs=kwargs)
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        client.logout()
        if persona != "anonymous":
            user = everyone[persona]
            from django_otp import DEVICE_ID_SESSION_KEY

            device = make_authenticator(user)
            client.force_login(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        response = client.get(url)
        status = response.status_code
        assert status == expected, f"{name} as {persona}: {status}, expected {expected}"
        if status == 200:  # clinic pages hold office and patient data: never cached
            assert "no-store" in response["Cache-Control"], f"{name} may be cached"
