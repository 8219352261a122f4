"""The invitation email: what the invitee reads, in text and HTML, and that its link works."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.invitations.conftest import link_path

pytestmark = pytest.mark.django_db


def test_invitation_email_has_everything_the_invitee_needs(invite, mailoutbox, admin):
    admin.first_name, admin.last_name = "Amelia", "Hart"
    admin.save()
    invitation = invite(
        email="new.doc@example.com",
        role="practitioner",
        name="Dr. New",
        message="Looking forward to working with you.\nSee you Monday!",
    )
    [message] = mailoutbox
    assert message.to == ["new.doc@example.com"]
    assert message.subject == "Amelia Hart invited you to join Lakeside Clinic on OutSmart"
    expiry = (timezone.now() + timedelta(days=14)).astimezone(
        __import__("zoneinfo").ZoneInfo("America/Toronto")
    )
    text = message.body
    for part in (
        "Hello Dr. New,",
        "Amelia Hart invited you to join Lakeside Clinic on OutSmart as practitioner.",
        "Looking forward to working with you.\nSee you Monday!",
        f"It works until {expiry:%B} {expiry.day}, {expiry.year}",
        "for new.doc@example.com only",
        "Not expecting this?",
        'mark it as "not spam"',
    ):
        assert part in text, part
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    link = re.search(r'href="([^"]+/invitations/[^"]+/)"', html).group(1)
    assert link.endswith(f"/invitations/{invitation.token}/")
    assert "Accept the invitation" in html and "not spam" in html
    assert "See you Monday!" in html and "<br>" in html
    # The link opens the landing page.
    assert Client().get(link_path(message), follow=True).status_code == 200


def test_office_name_with_markup_and_line_breaks_cannot_break_the_email(
    invite, mailoutbox, office, admin
):
    office.name = 'Evil <b>Clinic</b>\nBcc: x@example.com "quoted"'
    office.save()
    admin.first_name = "Eve\r\nX-Injected: 1"
    admin.save()
    invite()
    [message] = mailoutbox
    assert "\n" not in message.subject and "\r" not in message.subject
    headers = message.message().as_string().split("\n\n", 1)[0].splitlines()
    assert not [line for line in headers if line.startswith(("X-Injected", "Bcc"))]
    html = message.alternatives[0][0]
    assert "<b>Clinic</b>" not in html and "&lt;b&gt;Clinic&lt;/b&gt;" in html
    assert "<b>Clinic</b>" in message.body  # the text part shows it as typed


def test_createoffice_invitation_comes_from_outsmart_and_names_the_admin_role(
    mailoutbox, django_capture_on_commit_callbacks, db
):
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        call_command("createoffice", name="Harbour Physio", admin_email="Owner@Harbour.Example")
    [message] = mailoutbox
    assert message.to == ["Owner@harbour.example"]
    assert message.subject == "You are invited to set up Harbour Physio on OutSmart"
    assert "OutSmart Support invited you" in message.body
    assert "practitioner and office admin" in message.body
