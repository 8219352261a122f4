"""manage.py createoffice: the operator's way to start an office."""

import io

import pytest
from django.core.management import CommandError, call_command

from invitations.models import Invitation
from offices.models import Membership, Office
from tests.invitations.conftest import open_link

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("createoffice", *args, stdout=out)
    return out.getvalue()


def test_createoffice_creates_the_office_and_invites_its_first_admin(
    client, mailoutbox, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        out = run("--name", "Harbour Physio", "--admin-email", "owner@harbour.example")
    office = Office.objects.get(name="Harbour Physio")
    assert not office.is_set_up  # the new admin completes it
    assert office.smart_forms.filter(title="New patient intake").exists()
    invitation = Invitation.objects.get(office=office)
    assert (invitation.email, invitation.role, invitation.is_admin, invitation.invited_by) == (
        "owner@harbour.example",
        "practitioner",
        True,
        None,
    )
    assert "Invited owner@harbour.example" in out
    assert invitation.token not in out  # the link is a secret: only the email has it
    # The invitee registers and approves: they are the office's admin and are sent to setup.
    office.require_two_factor = False
    office.save()
    client.post(
        open_link(client, mailoutbox[0], "register/"),
        {
            "security_code": invitation.token,
            "first_name": "Olive",
            "last_name": "Owner",
            "password1": "violet-harbor-lantern-42",
            "password2": "violet-harbor-lantern-42",
        },
    )
    from django.urls import reverse

    client.post(reverse("invitee:approve", args=[invitation.pk]))
    membership = Membership.objects.get(office=office)
    assert membership.is_admin and membership.role == "practitioner"
    assert client.get("/")["Location"] == reverse("offices:edit")


def test_createoffice_says_where_the_email_went(settings, db):
    settings.EMAIL_BACKEND = "outsmart.devtools.mail.OutboxEmailBackend"
    out = run("--name", "Outbox Clinic", "--admin-email", "a@example.com")
    assert str(settings.OUTBOX_DIR) in out


@pytest.mark.parametrize(
    "args, error",
    [
        (["--name", "  ", "--admin-email", "a@example.com"], "--name must not be empty"),
        (["--name", "X", "--admin-email", "not-an-email"], "is not an email address"),
        (["--name", "X", "--admin-email", "a@b.c\nBcc: d@e.f"], "is not an email address"),
        (["--name", "X", "--admin-email", "a@b.example", "--time-zone", "Mars/Base"], "time zone"),
    ],
)
def test_createoffice_refuses_bad_input_and_creates_nothing(args, error):
    with pytest.raises(CommandError, match=error):
        run(*args)
    assert not Office.objects.exists()


def test_createoffice_refuses_a_duplicate_name():
    run("--name", "Twin Clinic", "--admin-email", "a@example.com")
    with pytest.raises(CommandError, match="already exists"):
        run("--name", "twin clinic", "--admin-email", "b@example.com")
    assert Office.objects.count() == 1


def test_an_office_added_in_the_support_admin_also_gets_the_intake_form(
    client, support, verified_login
):
    from django.urls import reverse

    verified_login(support)
    response = client.post(
        reverse("admin:offices_office_add"),
        {
            "name": "Admin-made Clinic",
            "address": "",
            "phone": "",
            "time_zone": "America/Toronto",
            "require_two_factor": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    office = Office.objects.get(name="Admin-made Clinic")
    assert office.smart_forms.filter(title="New patient intake").exists()
