"""seed_demo: the data `make run` starts with."""

import io

import pytest
from django.core.management import CommandError, call_command

from invitations.models import Invitation
from offices.models import Membership

pytestmark = pytest.mark.django_db


def test_seed_demo_is_safe_to_run_twice_and_leaves_pending_invitations_in_the_outbox(
    settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.DEBUG = True
    for _ in range(2):
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo", stdout=out)
    assert "admin@riverside.example" in out.getvalue()
    assert "grace.kim@riverside.example" in out.getvalue()
    assert Membership.objects.active().count() == 6
    assert set(Invitation.objects.values_list("email", "status", "delivery_state")) == {
        ("grace.kim@riverside.example", "pending", "sent"),
        ("new.frontdesk@riverside.example", "pending", "sent"),
    }
    from records.models import Appointment, Document, FormRequest, Patient, TreatmentPlan

    assert Patient.objects.count() == 40
    assert Appointment.objects.count() >= 20
    assert TreatmentPlan.objects.count() >= 3
    assert FormRequest.objects.filter(status="submitted").exists()
    assert FormRequest.objects.filter(status="pending").exists()
    assert Document.objects.count() >= 3
    assert sorted(m.to[0] for m in mailoutbox) == [
        "grace.kim@riverside.example",
        "new.frontdesk@riverside.example",
        "patient@riverside.example",  # "your records were connected", once
    ]
    from portal.models import PortalAccess

    grant = PortalAccess.objects.get(user__email="patient@riverside.example")
    assert grant.patient.full_name == "Olivia Brown" and grant.kind == "medical_records"


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=io.StringIO())
