"""Invitation pages: the invite form, the pending list, the link's landing page, registration,
approve and decline, review requests, and everything bad a person or an attacker can send."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invitations.models import Invitation, ReviewRequest
from offices.models import Membership
from outsmart.accounts.models import User
from outsmart.audit.models import AuditEvent
from tests.factories import UserFactory
from tests.invitations.conftest import link_path, open_link

pytestmark = pytest.mark.django_db

STRONG = "violet-harbor-lantern-42"


def create_url(role="staff"):
    return reverse("invitations:create", kwargs={"role": role})


# --- the admin's side ------------------------------------------------------------------------
def test_invite_buttons_open_the_form_for_their_role(client, admin, verified_login):
    verified_login(admin)
    team = client.get(reverse("offices:team")).content.decode()
    left, right = team.split('id="col-staff"')
    assert f'href="{create_url("practitioner")}"' in left
    assert f'href="{create_url("staff")}"' in right
    page = client.get(create_url("practitioner")).content.decode()
    assert "Invite practitioner" in page and "identical email address" in page


def test_admin_invites_and_sees_the_pending_invitation_with_its_delivery_state(
    client, admin, verified_login, django_capture_on_commit_callbacks, mailoutbox
):
    verified_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            create_url("staff"),
            {"email": "  Front.Desk@Example.COM ", "name": "Sam Front", "message": "Welcome!"},
        )
    assert response["Location"] == reverse("offices:team")
    body = client.get(response["Location"]).content.decode()
    assert "Its email is on its way" in body
    invitation = Invitation.objects.get()
    assert invitation.email == "Front.Desk@example.com"  # trimmed, domain lower-cased
    assert (invitation.role, invitation.name, invitation.invited_by) == (
        "staff",
        "Sam Front",
        admin,
    )
    left, right = body.split('id="col-practitioner"')[1].split('id="col-staff"')
    assert "Front.Desk@example.com" in right and "Front.Desk@example.com" not in left
    assert "Email sent" in right and ">Resend</button>" in right and ">Revoke</button>" in right
    assert mailoutbox[0].to == ["Front.Desk@example.com"]


def test_invalid_input_gets_a_clear_message_and_creates_nothing(client, admin, verified_login):
    verified_login(admin)
    cases = [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"email": ""}, "This field is required."),
        ({"email": "a@b.example\r\nBcc: victim@example.com"}, "Enter a valid email address."),
        ({"email": "x" * 300 + "@example.com"}, "at most 254 characters"),
        ({"email": "ok@example.com", "name": "n" * 151}, "at most 150 characters"),
        ({"email": "ok@example.com", "message": "m" * 1001}, "at most 1000 characters"),
        ({"email": "ok@example.com", "name": "nul\x00byte"}, "Null characters are not allowed."),
        ({"email": ["a@example.com", "b@example.com"], "name": {"x": 1}}, None),
    ]
    for data, error in cases:
        response = client.post(create_url(), data)
        if error is None:  # duplicated fields: the last value counts, which is valid input
            continue
        assert response.status_code == 400, data
        assert error in response.content.decode(), data
    assert Invitation.objects.count() <= 1


def test_header_injection_in_name_and_message_stays_inside_the_body(
    client, admin, verified_login, django_capture_on_commit_callbacks, mailoutbox
):
    verified_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            create_url(),
            {
                "email": "inj@example.com",
                "name": "Eve\r\nBcc: victim@example.com\u2028Subject: hacked",
                "message": "Hello\r\nBcc: victim@example.com\n\n\n\n<script>alert(1)</script>",
            },
        )
    invitation = Invitation.objects.get()
    assert "\n" not in invitation.name and "\r" not in invitation.name
    message = mailoutbox[0]
    assert message.to == ["inj@example.com"] and message.bcc == []
    headers = message.message().as_string().split("\n\n", 1)[0]
    assert "Bcc:" not in headers and "hacked" not in headers
    html = message.alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in message.body  # plain text, shown as typed


def test_unicode_names_and_messages_are_kept(client, admin, verified_login):
    verified_login(admin)
    client.post(
        create_url(),
        {"email": "zoe@exämple.com", "name": "Zoë Ωmega 李", "message": "Bienvenue 🎉"},
    )
    invitation = Invitation.objects.get()
    assert invitation.name == "Zoë Ωmega 李" and invitation.message == "Bienvenue 🎉"


def test_existing_pending_invitation_is_offered_for_resend(client, admin, verified_login, invite):
    existing = invite(email="again@example.com")
    verified_login(admin)
    response = client.post(create_url(), {"email": "again@example.com"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "already has a pending invitation" in body
    assert reverse("invitations:resend", args=[existing.pk]) in body
    assert "Resend the invitation" in body
    assert Invitation.objects.count() == 1


def test_member_is_refused_as_already_a_member(client, admin, staff, verified_login):
    verified_login(admin)
    response = client.post(create_url(), {"email": staff.email})
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_unknown_role_is_404_and_unfinished_setup_sends_to_setup(
    client, admin, office, verified_login
):
    verified_login(admin)
    assert client.get(reverse("invitations:create", kwargs={"role": "boss"})).status_code == 404
    office.setup_completed_at = None
    office.save()
    response = client.post(create_url(), {"email": "x@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("offices:edit")
    assert not Invitation.objects.exists()


def test_limit_message_is_shown_on_the_form(client, admin, office, verified_login):
    from invitations import services

    for n in range(20):
        services.invitation_create(
            office=office, email=f"p{n}@example.com", role="staff", invited_by=admin
        )
    verified_login(admin)
    response = client.post(create_url(), {"email": "p21@example.com"})
    assert response.status_code == 400
    assert "20 invitations in the last hour" in response.content.decode()
    assert Invitation.objects.count() == 20


def test_resend_and_revoke_from_the_team_tab(client, admin, verified_login, invite, mailoutbox):
    invitation = invite()
    old_path = link_path(mailoutbox[0])
    verified_login(admin)
    assert client.get(reverse("invitations:resend", args=[invitation.pk])).status_code == 405
    response = client.post(reverse("invitations:resend", args=[invitation.pk]), follow=True)
    assert "sent again with a new link" in response.content.decode()
    assert Client().get(old_path).status_code == 404
    # A browser that opened the old link before the resend cannot go on with it either.
    response = client.post(reverse("invitations:revoke", args=[invitation.pk]), follow=True)
    assert "revoked" in response.content.decode()
    columns = response.content.decode().split('class="team-columns"')[1]
    assert invitation.email not in columns
    response = client.post(reverse("invitations:revoke", args=[invitation.pk]), follow=True)
    assert "withdrawn" in response.content.decode()


def test_another_offices_invitation_cannot_be_touched(client, outsider, verified_login, invite):
    invitation = invite()
    verified_login(outsider)
    for name in ("invitations:resend", "invitations:revoke"):
        assert client.post(reverse(name, args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_staff_cannot_invite_or_see_pending_invitations(client, staff, verified_login, invite):
    invitation = invite()
    verified_login(staff)
    assert client.post(create_url(), {"email": "x@example.com"}).status_code == 403
    assert client.post(reverse("invitations:revoke", args=[invitation.pk])).status_code == 403
    assert invitation.email not in client.get(reverse("offices:team")).content.decode()
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


# --- the link ------------------------------------------------------------------------------
def test_landing_page_shows_the_offer_and_changes_nothing(client, invite, mailoutbox):
    invitation = invite(role="practitioner")
    path = link_path(mailoutbox[0])
    before = Invitation.objects.filter(pk=invitation.pk).values().get()
    for _ in range(3):  # a mail scanner, then the person, then a reload
        opened = client.get(path)
        # The link's token never leaves in a Referer header, and the page the person sees is
        # at an address without it (see invitations.views.landing).
        assert opened.status_code == 302 and opened["Location"] == reverse("invitee:open")
        assert opened["Referrer-Policy"] == "no-referrer"
        assert "no-store" in opened["Cache-Control"]
        response = client.get(opened["Location"])
    body = response.content.decode()
    assert response.status_code == 200
    assert "Lakeside Clinic" in body and "practitioner" in body and "Create your account" in body
    assert invitation.token not in body
    assert "no-store" in response["Cache-Control"]
    assert Invitation.objects.filter(pk=invitation.pk).values().get() == before
    assert AuditEvent.objects.filter(action="invitation.viewed").count() == 3
    assert not User.objects.filter(email=invitation.email).exists()


@pytest.mark.parametrize(
    "mangle, status, text",
    [
        (lambda t: t[:20], 404, "This link is incomplete"),
        (lambda t: t + "x", 404, "This link is incomplete"),
        (lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), 404, "recognise this invitation"),
        (lambda t: "%00" + t[3:], 404, "This link is incomplete"),
        (lambda t: "é" * 43, 404, "This link is incomplete"),
        (lambda t: "<script>" + t[8:], 404, "This link is incomplete"),
    ],
)
def test_tampered_links_get_a_clear_page(client, invite, mangle, status, text):
    invitation = invite()
    response = client.get(f"/invitations/{mangle(invitation.token)}/")
    assert response.status_code == status
    assert text in response.content.decode()
    register = client.get(f"/invitations/{mangle(invitation.token)}/register/")
    assert register.status_code == status
    # Nothing was remembered for the next step either.
    assert client.post(reverse("invitee:open_register"), {}).status_code == 410
    assert not User.objects.filter(email=invitation.email).exists()


def test_each_closed_state_has_its_own_page(client, invite, admin):
    from invitations import services

    cases = {}
    revoked = invite(email="revoked@example.com")
    services.invitation_revoke(invitation=revoked, actor=admin, request=None)
    cases["withdrawn"] = revoked
    accepted = invite(email="accepted@example.com")
    services.invitation_accept(
        invitation_id=accepted.pk, user=UserFactory(email="accepted@example.com"), request=None
    )
    cases["already been accepted"] = accepted
    declined = invite(email="declined@example.com")
    services.invitation_decline(
        invitation_id=declined.pk, user=UserFactory(email="declined@example.com"), request=None
    )
    cases["was declined"] = declined
    with time_machine.travel(timezone.now() - timedelta(days=15)):
        cases["has expired"] = invite(email="expired@example.com")
    for text, invitation in cases.items():
        for suffix in ("", "register/", "review/"):
            response = client.get(f"/invitations/{invitation.token}/{suffix}")
            assert response.status_code == 410, (text, suffix)
            assert text in response.content.decode()


def test_repeated_bad_links_from_one_address_are_slowed_down(client):
    for _ in range(60):
        assert client.get("/invitations/short/").status_code == 404
    assert client.get("/invitations/short/").status_code == 429


def test_registration_form_has_the_email_fixed_and_the_security_code_filled_in(
    client, invite, mailoutbox
):
    invitation = invite(email="New.Person@example.com")
    page = client.get(open_link(client, mailoutbox[0], "register/")).content.decode()
    assert 'value="New.Person@example.com"' in page and "disabled" in page
    assert f'value="{invitation.token}"' in page and "Security code" in page


def test_registering_creates_a_verified_account_logs_in_and_leads_to_two_factor_then_approve(
    client, invite, mailoutbox, django_capture_on_commit_callbacks
):
    from allauth.account.models import EmailAddress

    invitation = invite(email="New.Person@example.com")
    path = open_link(client, mailoutbox[0], "register/")
    response = client.post(
        path,
        {
            "email": "attacker@example.com",  # disabled field: ignored
            "security_code": invitation.token,
            "first_name": " New ",
            "last_name": "Person",
            "password1": STRONG,
            "password2": STRONG,
        },
    )
    user = User.objects.get(email__iexact=invitation.email)
    assert (user.email, user.first_name) == ("new.person@example.com", "New")
    assert EmailAddress.objects.get(user=user).verified
    approve_page = reverse("invitee:detail", args=[invitation.pk])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_setup"))
    assert "next=" + approve_page.replace("/", "%2F") in response["Location"]
    # Logged in: the approve page answers, and approving first asks for two-factor.
    assert client.get(approve_page).status_code == 200
    response = client.post(reverse("invitee:approve", args=[invitation.pk]))
    assert response["Location"].startswith(reverse("accounts:two_factor_setup"))
    assert not Membership.objects.filter(user=user).exists()
    assert "invitation.registered" in AuditEvent.objects.values_list("action", flat=True)


def test_office_without_two_factor_goes_straight_to_approve(client, office, invite, mailoutbox):
    office.require_two_factor = False
    office.save()
    invitation = invite()
    response = client.post(
        open_link(client, mailoutbox[0], "register/"),
        {
            "security_code": invitation.token,
            "first_name": "A",
            "last_name": "B",
            "password1": STRONG,
            "password2": STRONG,
        },
    )
    assert response["Location"] == reverse("invitee:detail", args=[invitation.pk])
    response = client.post(reverse("invitee:approve", args=[invitation.pk]), follow=True)
    assert "You joined Lakeside Clinic" in response.content.decode()
    assert Membership.objects.filter(user__email=invitation.email, office=office).exists()


@pytest.mark.parametrize(
    "change, field_error",
    [
        ({"security_code": "A" * 43}, "does not match this invitation"),
        ({"password1": "short", "password2": "short"}, "too short"),
        ({"password1": "password123", "password2": "password123"}, "too common"),
        ({"password2": STRONG + "x"}, "not the same"),
        ({"first_name": "   "}, "This field is required"),
        ({"first_name": "\u202e\u2028"}, "Enter your first name"),
        ({"last_name": "\x00"}, "Null characters"),
        ({"first_name": "x" * 151}, "at most 150"),
    ],
)
def test_bad_registration_input_creates_nothing_and_keeps_the_names(
    client, invite, mailoutbox, change, field_error
):
    invitation = invite()
    data = {
        "security_code": invitation.token,
        "first_name": "Keep",
        "last_name": "Me",
        "password1": STRONG,
        "password2": STRONG,
        **change,
    }
    response = client.post(open_link(client, mailoutbox[0], "register/"), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert field_error in body
    assert STRONG not in body  # passwords are never sent back
    if "first_name" not in change:
        assert 'value="Keep"' in body
    assert not User.objects.filter(email__iexact=invitation.email).exists()


def test_existing_account_is_asked_to_log_in_and_lands_on_approve(
    client, invite, mailoutbox, password
):
    user = UserFactory(email="has.account@example.com")
    invitation = invite(email="has.account@example.com")
    path = open_link(client, mailoutbox[0])
    body = client.get(path).content.decode()
    assert "Log in to accept" in body and "Request a review" in body
    assert "Create your account" not in body
    # The registration form refuses to make a second account for the address.
    assert client.get(reverse("invitee:open_register"))["Location"] == path
    login = reverse("account_login") + "?next=" + reverse("invitee:detail", args=[invitation.pk])
    response = client.post(login, {"login": user.email, "password": password})
    assert response["Location"] == reverse("invitee:detail", args=[invitation.pk])


def test_someone_else_logged_in_is_told_and_offered_to_log_out(
    client, invite, mailoutbox, patient, verified_login
):
    invite(email="intended@example.com")
    verified_login(patient)
    body = client.get(link_path(mailoutbox[0]), follow=True).content.decode()
    assert "You are logged in as" in body and patient.email in body
    assert ">Log out</button>" in body and ">Approve</button>" not in body


def test_the_invitee_sees_the_invitation_on_every_page_and_approves_without_logging_out(
    client, invite, verified_login, office
):
    user = UserFactory(email="joiner@example.com")
    verified_login(user)
    assert "invited you to join" not in client.get(reverse("accounts:overview")).content.decode()
    invitation = invite(email="JOINER@example.com")  # addresses match whatever their case
    overview = client.get(reverse("accounts:overview")).content.decode()
    assert "invited you to join" in overview and "Lakeside Clinic" in overview
    assert ">Approve</button>" in overview and ">Decline</button>" in overview
    listing = client.get(reverse("invitee:list")).content.decode()
    assert reverse("invitee:approve", args=[invitation.pk]) in listing
    response = client.post(reverse("invitee:approve", args=[invitation.pk]), follow=True)
    assert "You joined Lakeside Clinic" in response.content.decode()
    assert client.get(reverse("records:schedule")).status_code == 200
    assert "invited you to join" not in client.get(reverse("offices:detail")).content.decode()


def test_approving_or_viewing_someone_elses_invitation_is_404(
    client, invite, verified_login, patient
):
    invitation = invite(email="not.patient@example.com")
    verified_login(patient)
    for name in ("invitee:detail",):
        assert client.get(reverse(name, args=[invitation.pk])).status_code == 404
    for name in ("invitee:approve", "invitee:decline"):
        assert client.post(reverse(name, args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert not Membership.objects.filter(user=patient).exists()


def test_decline_from_the_list(client, invite, verified_login):
    user = UserFactory(email="maybe@example.com")
    invitation = invite(email="maybe@example.com")
    verified_login(user)
    response = client.post(reverse("invitee:decline", args=[invitation.pk]), follow=True)
    assert "You declined the invitation to Lakeside Clinic" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    response = client.post(reverse("invitee:approve", args=[invitation.pk]), follow=True)
    assert "was declined" in response.content.decode()
    assert not Membership.objects.filter(user=user).exists()


def test_signup_without_an_invitation_creates_no_account(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "walk.in@example.com", "password1": STRONG, "password2": STRONG},
    )
    assert response.status_code in (200, 403)
    assert not User.objects.filter(email="walk.in@example.com").exists()


# --- review requests -------------------------------------------------------------------------
def test_address_used_by_another_account_can_request_a_review(
    client, invite, mailoutbox, settings, django_capture_on_commit_callbacks
):
    UserFactory(email="shared@clinic.example")
    invitation = invite(email="shared@clinic.example")
    path = open_link(client, mailoutbox[0], "review/")
    assert path == reverse("invitee:open_review")
    assert client.get(path).status_code == 200
    bad = client.post(path, {"contact_email": "nope", "note": "x"})
    assert bad.status_code == 400 and not ReviewRequest.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            path, {"contact_email": "me@personal.example", "note": "Shared mailbox"}
        )
    assert "Review requested" in response.content.decode()
    review = ReviewRequest.objects.get()
    assert (review.invitation, review.contact_email, review.status) == (
        invitation,
        "me@personal.example",
        "open",
    )
    assert mailoutbox[-1].to == [settings.SUPPORT_EMAIL]
    assert "shared@clinic.example" in mailoutbox[-1].body
    again = client.post(path, {"contact_email": "me@personal.example"})
    assert "already waiting" in again.content.decode()
    assert ReviewRequest.objects.count() == 1
    assert "invitation.review_requested" in AuditEvent.objects.values_list("action", flat=True)


def test_review_is_only_for_addresses_in_use(client, invite, mailoutbox):
    invite(email="free@example.com")
    path = open_link(client, mailoutbox[0])
    assert client.get(reverse("invitee:open_review"))["Location"] == path


def test_support_resolves_a_review_by_inviting_another_address(
    client, invite, mailoutbox, support, verified_login, django_capture_on_commit_callbacks
):
    from invitations import services

    UserFactory(email="shared@clinic.example")
    invitation = invite(email="shared@clinic.example")
    review = services.review_request_create(
        invitation=invitation, contact_email="me@personal.example", note="", request=None
    )
    verified_login(support)
    url = reverse("admin:invitations_reviewrequest_change", args=[review.pk])
    assert client.get(url).status_code == 200
    missing = client.post(
        url, {"resolution": "resent_other", "new_email": "", "resolution_note": ""}
    )
    assert missing.status_code == 200 and "Enter the address the clinic confirmed" in (
        missing.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "resolution": "resent_other",
                "new_email": "me@personal.example",
                "resolution_note": "Clinic confirmed by phone",
            },
        )
    assert response.status_code == 302
    review.refresh_from_db()
    invitation.refresh_from_db()
    assert review.status == "resolved" and review.resolved_by == support
    assert invitation.status == "revoked"
    replacement = Invitation.objects.get(email="me@personal.example")
    assert replacement.status == "pending" and replacement.office == invitation.office
    assert replacement.invited_by == invitation.invited_by
    assert mailoutbox[-1].to == ["me@personal.example"]
    assert "invitation.review_resolved" in AuditEvent.objects.values_list("action", flat=True)


def test_invitation_tokens_never_reach_the_logs(client, invite, caplog, capsys):
    invitation = invite()
    client.get(f"/invitations/{invitation.token}/")
    client.get(f"/invitations/{invitation.token[:-1]}A/register/")  # a 404 logs its path
    logged = caplog.text + capsys.readouterr().out
    assert "/invitations/" in logged
    assert invitation.token not in logged and invitation.token[:-1] not in logged


def test_log_out_from_the_landing_page_comes_back_to_it(client, invite, mailoutbox, patient):
    invite(email="intended@example.com")
    path = link_path(mailoutbox[0])
    client.force_login(patient)
    page = client.get(path, follow=True).content.decode()
    # Logging out ends the session that remembered the link: "Log out" comes back through it.
    assert f'name="next" value="{path}"' in page
    response = client.post(reverse("account_logout"), {"next": path})
    assert response["Location"] == path
    assert "Create your account" in client.get(path, follow=True).content.decode()


def test_a_link_opened_before_a_resend_cannot_be_used_after_it(client, invite, admin, mailoutbox):
    from invitations import services

    invitation = invite()
    register = open_link(client, mailoutbox[0], "register/")
    assert client.get(register).status_code == 200
    services.invitation_resend(invitation=invitation, actor=admin, request=None)
    response = client.post(register, {"security_code": invitation.token})
    assert response.status_code == 404
    assert "recognise this invitation" in response.content.decode()
    assert not User.objects.filter(email__iexact=invitation.email).exists()


def test_an_opened_link_is_remembered_for_an_hour_only(client, invite, mailoutbox):
    invite()
    register = open_link(client, mailoutbox[0], "register/")
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        response = client.get(register)
    assert response.status_code == 410
    assert "Open your invitation link again" in response.content.decode()
