"""Invitation services: create, resend, revoke, register, approve, decline, expire, re-queue."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from invitations import services
from invitations.models import Invitation, token_digest
from invitations.tasks import invitation_send, invitations_expire, invitations_requeue
from offices.models import Membership
from outsmart.audit.models import AuditEvent
from tests.factories import InvitationFactory, MembershipFactory, UserFactory
from tests.invitations.conftest import link_path

pytestmark = pytest.mark.django_db


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_invitation_is_stored_with_a_keyed_hash_never_the_token(invite, mailoutbox):
    invitation = invite()
    token = link_path(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 bits in URL-safe base64
    assert token == invitation.token
    row = Invitation.objects.filter(pk=invitation.pk).values().get()
    assert token not in str(row)
    assert row["token_digest"] == token_digest(token) != token
    assert invitation.expires_at - invitation.created_at == timedelta(days=14)
    assert invitation.status == "pending" and invitation.delivery_state == "sent"
    assert invitation.delivery_attempts == 1 and invitation.sent_at is not None
    assert actions() == ["invitation.created", "invitation.sent"]


def test_token_depends_on_the_server_secret(invite, settings):
    invitation = invite()
    token = invitation.token
    settings.ACCESS_CODE_SECRET = "another-secret-" * 5
    assert invitation.token != token
    assert token_digest(token) != invitation.token_digest


def test_inviting_is_refused_until_office_setup_is_complete(office, admin):
    office.setup_completed_at = None
    office.save()
    with pytest.raises(services.InvitationError, match="setup"):
        services.invitation_create(
            office=office, email="a@example.com", role="staff", invited_by=admin
        )
    assert not Invitation.objects.exists()


def test_an_active_member_cannot_be_invited_again_whatever_the_case(office, admin, staff):
    with pytest.raises(services.AlreadyMember, match="already a member"):
        services.invitation_create(
            office=office, email=staff.email.upper(), role="staff", invited_by=admin
        )
    assert not Invitation.objects.exists()


def test_a_removed_member_can_be_invited_again(office, admin, removed_member, invite):
    assert invite(email=removed_member.email).status == "pending"


def test_a_second_invitation_to_a_pending_address_is_offered_as_a_resend(invite, office, admin):
    first = invite(email="twice@example.com")
    with pytest.raises(services.AlreadyInvited) as error:
        services.invitation_create(
            office=office, email="TWICE@example.com", role="practitioner", invited_by=admin
        )
    assert error.value.invitation == first
    assert Invitation.objects.count() == 1


def test_an_expired_pending_invitation_is_replaced_by_a_new_one(invite, office, admin):
    old = invite(email="late@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        new = services.invitation_create(
            office=office, email="late@example.com", role="staff", invited_by=admin
        )
    old.refresh_from_db()
    assert old.status == "expired" and new.status == "pending"
    assert "invitation.expired" in actions()


def test_the_same_address_may_be_pending_in_two_offices(invite, other_office, outsider):
    invite(email="both@example.com")
    services.invitation_create(
        office=other_office, email="both@example.com", role="staff", invited_by=outsider
    )
    assert Invitation.objects.filter(status="pending").count() == 2


def test_an_admin_may_send_20_invitations_an_hour(office, admin):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(20):
            services.invitation_create(
                office=office, email=f"p{n}@example.com", role="staff", invited_by=admin
            )
        with pytest.raises(services.LimitReached, match="20 invitations in the last hour"):
            services.invitation_create(
                office=office, email="p20@example.com", role="staff", invited_by=admin
            )
        # A resend is an email too: it counts.
        with pytest.raises(services.LimitReached):
            services.invitation_resend(
                invitation=Invitation.objects.first(), actor=admin, request=None
            )
    assert Invitation.objects.count() == 20
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        services.invitation_create(
            office=office, email="p20@example.com", role="staff", invited_by=admin
        )


def test_an_office_may_send_50_invitations_a_day_whoever_sends_them(office, admin):
    admins = [admin] + [MembershipFactory(office=office, is_admin=True).user for _ in range(2)]
    start = timezone.now()
    for n in range(50):
        with time_machine.travel(start + timedelta(hours=n // 17 * 2), tick=False):
            services.invitation_create(
                office=office, email=f"p{n}@example.com", role="staff", invited_by=admins[n % 3]
            )
    with (
        time_machine.travel(start + timedelta(hours=7), tick=False),
        pytest.raises(services.LimitReached, match="50 invitations in the last 24 hours"),
    ):
        services.invitation_create(
            office=office, email="one-more@example.com", role="staff", invited_by=admin
        )
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        services.invitation_create(
            office=office, email="one-more@example.com", role="staff", invited_by=admin
        )


def test_resend_makes_a_new_link_and_a_new_expiry_and_the_old_link_stops(
    invite, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        invitation = invite()
    old_token, old_expiry = invitation.token, invitation.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_resend(invitation=invitation, actor=admin, request=None)
    invitation.refresh_from_db()
    assert invitation.token != old_token
    assert services.invitation_by_token(old_token) is None
    assert services.invitation_by_token(invitation.token) == invitation
    assert invitation.expires_at > old_expiry + timedelta(days=2)
    assert invitation.delivery_state == "sent"
    assert len(mailoutbox) == 2
    assert link_path(mailoutbox[1]).rstrip("/").endswith(invitation.token)
    assert "invitation.resent" in actions()


def test_revoke_stops_the_link_at_once_and_cannot_be_undone_by_resend(invite, admin):
    invitation = invite()
    token = invitation.token
    services.invitation_revoke(invitation=invitation, actor=admin, request=None)
    invitation.refresh_from_db()
    assert invitation.status == "revoked" and not invitation.is_open
    assert services.invitation_by_token(token).status == "revoked"
    with pytest.raises(services.InvitationError, match="withdrawn"):
        services.invitation_resend(invitation=invitation, actor=admin, request=None)
    with pytest.raises(services.InvitationError):
        services.invitation_revoke(invitation=invitation, actor=admin, request=None)
    assert actions().count("invitation.revoked") == 1


def test_a_revoked_invitation_is_never_sent(office, admin, mailoutbox):
    invitation = services.invitation_create(
        office=office, email="x@example.com", role="staff", invited_by=admin
    )  # no commit callbacks run: the task has not run yet
    services.invitation_revoke(invitation=invitation, actor=admin, request=None)
    assert invitation_send(invitation.pk) == "skipped"
    assert mailoutbox == []


def test_register_creates_a_verified_account_but_does_not_join_yet(invite):
    from allauth.account.models import EmailAddress

    invitation = invite(email="New.Person@Example.com")
    user = services.invitation_register(
        invitation=invitation,
        first_name="New",
        last_name="Person",
        password="violet-harbor-lantern-42",
        request=None,
    )
    assert user.email == "new.person@example.com" and user.check_password(
        "violet-harbor-lantern-42"
    )
    assert EmailAddress.objects.get(user=user).verified
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert not Membership.objects.filter(user=user).exists()
    with pytest.raises(services.InvitationError, match="already uses"):
        services.invitation_register(
            invitation=invitation, first_name="A", last_name="B", password="x" * 12, request=None
        )


def test_approve_joins_the_office_with_the_invited_role_once_and_tells_the_inviter(
    invite, admin, office, django_capture_on_commit_callbacks, mailoutbox
):
    invitation = invite(email="dr.new@example.com", role="practitioner")
    user = UserFactory(email="dr.new@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.invitation_accept(
            invitation_id=invitation.pk, user=user, request=None
        )
    assert (membership.office, membership.role, membership.is_admin) == (
        office,
        "practitioner",
        False,
    )
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.responded_by == user
    assert mailoutbox[-1].to == [admin.email]
    assert "joined Lakeside Clinic" in mailoutbox[-1].subject
    with pytest.raises(services.InvitationError, match="already been accepted"):
        services.invitation_accept(invitation_id=invitation.pk, user=user, request=None)
    assert Membership.objects.filter(user=user).count() == 1
    assert actions().count("invitation.approved") == 1


def test_an_invitation_cannot_be_approved_by_another_email(invite, patient):
    invitation = invite(email="someone.else@example.com")
    with pytest.raises(services.NotYours):
        services.invitation_accept(invitation_id=invitation.pk, user=patient, request=None)
    with pytest.raises(services.NotYours):
        services.invitation_decline(invitation_id=invitation.pk, user=patient, request=None)
    invitation.refresh_from_db()
    assert invitation.status == "pending"
    assert not Membership.objects.filter(user=patient).exists()


def test_an_unverified_address_does_not_receive_the_invitation(invite):
    from allauth.account.models import EmailAddress

    user = UserFactory(email="owner@example.com")
    EmailAddress.objects.create(user=user, email="claimed@example.com", verified=False)
    invitation = invite(email="claimed@example.com")
    with pytest.raises(services.NotYours):
        services.invitation_accept(invitation_id=invitation.pk, user=user, request=None)


def test_decline_closes_the_invitation_and_tells_the_inviter(
    invite, admin, django_capture_on_commit_callbacks, mailoutbox
):
    invitation = invite(email="no.thanks@example.com")
    user = UserFactory(email="no.thanks@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_decline(invitation_id=invitation.pk, user=user, request=None)
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    assert mailoutbox[-1].to == [admin.email] and "declined" in mailoutbox[-1].subject
    with pytest.raises(services.InvitationError):
        services.invitation_accept(invitation_id=invitation.pk, user=user, request=None)


def test_expiry_task_expires_pending_invitations_after_14_days_with_an_audit_event(invite):
    fresh = invite(email="fresh@example.com")
    with time_machine.travel(timezone.now() - timedelta(days=14, seconds=5)):
        old = invite(email="old@example.com")
    assert old.is_expired and not old.is_open  # already shown as expired before the task
    assert invitations_expire() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == ("expired", "pending")
    event = AuditEvent.objects.get(action="invitation.expired")
    assert event.target_id == str(old.pk) and event.office_id == old.office_id
    assert invitations_expire() == 0


def test_requeue_sends_invitations_left_queued_and_leaves_recent_ones(office, mailoutbox):
    now = timezone.now()
    lost = InvitationFactory(
        office=office,
        delivery_state="queued",
        delivery_attempts=0,
        sent_at=None,
        delivery_due_at=now - timedelta(minutes=6),
    )
    recent = InvitationFactory(
        office=office,
        delivery_state="queued",
        delivery_attempts=0,
        sent_at=None,
        delivery_due_at=now - timedelta(minutes=1),
    )
    crashed = InvitationFactory(
        office=office,
        delivery_state="sending",
        delivery_attempts=1,
        sent_at=None,
        delivery_due_at=now - timedelta(minutes=11),
    )
    sending = InvitationFactory(
        office=office,
        delivery_state="sending",
        delivery_attempts=1,
        sent_at=None,
        delivery_due_at=now - timedelta(minutes=2),
    )
    assert invitations_requeue() == 2
    states = dict(Invitation.objects.values_list("pk", "delivery_state"))
    assert states == {
        lost.pk: "sent",
        recent.pk: "queued",
        crashed.pk: "sent",
        sending.pk: "sending",
    }
    assert sorted(m.to[0] for m in mailoutbox) == sorted([lost.email, crashed.email])


def test_a_send_request_never_sends_twice(invite, mailoutbox):
    invitation = invite()
    assert invitation_send(invitation.pk) == "skipped"
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_approvals_make_one_membership(office, admin):
    invitation = InvitationFactory(office=office, invited_by=admin, email="racer@example.com")
    user = UserFactory(email="racer@example.com")
    barrier = threading.Barrier(2)
    outcomes = []

    def approve():
        try:
            barrier.wait()
            services.invitation_accept(invitation_id=invitation.pk, user=user, request=None)
            outcomes.append("joined")
        except services.InvitationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["joined", "refused"]
    assert Membership.objects.filter(user=user, office=office).count() == 1


@pytest.mark.django_db(transaction=True)
def test_inviting_the_same_address_twice_at_once_makes_one_invitation(office, admin):
    barrier = threading.Barrier(2)
    outcomes = []

    def create():
        try:
            barrier.wait()
            services.invitation_create(
                office=office, email="once@example.com", role="staff", invited_by=admin
            )
            outcomes.append("created")
        except services.AlreadyInvited:
            outcomes.append("already")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "created"]
    assert Invitation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_resend_and_revoke_at_once_end_consistently(office, admin):
    invitation = InvitationFactory(office=office, invited_by=admin)
    barrier = threading.Barrier(2)
    unexpected = []

    def run(action):
        try:
            barrier.wait()
            action(invitation=invitation, actor=admin, request=None)
        except services.InvitationError:
            pass
        except Exception as error:  # a deadlock or any other surprise fails the test
            unexpected.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(services.invitation_resend,)),
        threading.Thread(target=run, args=(services.invitation_revoke,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    invitation.refresh_from_db()
    # Whatever the order, the invitation ends revoked and no link of it works.
    assert invitation.status == "revoked"
    assert services.invitation_by_token(invitation.token).status == "revoked"


@pytest.mark.parametrize(
    "error, transient, kind",
    [
        (__import__("smtplib").SMTPResponseException(451, b"busy"), True, "answered 451"),
        (__import__("smtplib").SMTPResponseException(550, b"no"), False, "answered 550"),
        (__import__("smtplib").SMTPServerDisconnected(), True, "unreachable"),
        (ConnectionRefusedError(), True, "unreachable"),
        (TimeoutError(), True, "unreachable"),
        (__import__("smtplib").SMTPNotSupportedError(), False, "setup error"),
        (__import__("smtplib").SMTPException("No suitable auth"), False, "setup error"),
        (__import__("ssl").SSLCertVerificationError(), False, "TLS error"),
    ],
)
def test_mail_errors_are_retried_only_when_retrying_can_help(error, transient, kind):
    from outsmart.mail import error_kind, is_transient

    assert is_transient(error) is transient
    assert kind in error_kind(error)


def test_an_email_that_cannot_be_built_fails_the_row_instead_of_looping(
    office, admin, monkeypatch, mailoutbox
):
    import invitations.tasks

    def broken(invitation):
        raise ValueError("bad template")

    monkeypatch.setattr(invitations.tasks, "invitation_email", broken)
    invitation = InvitationFactory(office=office, delivery_state="queued", sent_at=None)
    assert invitation_send(invitation.pk) == "failed"
    invitation.refresh_from_db()
    assert (invitation.delivery_state, invitation.delivery_error) == ("failed", "ValueError")
    assert mailoutbox == []
    assert invitations_requeue() == 0


def test_a_send_superseded_by_a_resend_does_not_overwrite_the_new_state(office, admin, monkeypatch):
    import invitations.tasks

    real = invitations.tasks.invitation_email
    invitation = InvitationFactory(office=office, delivery_state="queued", sent_at=None)

    def resent_meanwhile(row):
        rendered = real(row)
        # An admin clicks Resend while this worker is rendering the old link.
        services.invitation_resend(invitation=row, actor=admin, request=None)
        return rendered

    monkeypatch.setattr(invitations.tasks, "invitation_email", resent_meanwhile)
    assert invitation_send(invitation.pk) == "superseded"
    invitation.refresh_from_db()
    assert invitation.delivery_state == "queued"  # the resend's own send is still to come
    assert not AuditEvent.objects.filter(action="invitation.sent").exists()
