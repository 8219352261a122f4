"""Races on PostgreSQL, with real threads: each thread is its own browser tab (a Django test
client) with its own database connection, and they hit the same rows at the same moment.

The four races of issue 9, and where each is proved:

1. One access code redeemed by 20 at once gives one grant:
   tests/accesscodes/test_concurrency.py::test_twenty_simultaneous_redemptions_of_one_code_give_exactly_one_grant
   (and its rate limits shared by separate processes through Redis, in the same file).
2. One invitation approved twice at once makes one membership:
   tests/invitations/test_services.py::test_two_simultaneous_approvals_make_one_membership (the
   service), and here through the Approve button from eight tabs at once.
3. An admin removing a member while that member loads office pages: here. Every request that
   started after the removal committed is refused (no page of the office is served), and the
   member's session is ended on the server.
4. Resend and revoke of one invitation at once end in a consistent state:
   tests/invitations/test_services.py::test_resend_and_revoke_at_once_end_consistently (the
   services), and here through the two buttons, over several rounds so that both orders occur.

Related, in tests/invitations/test_services.py:
  test_inviting_the_same_address_twice_at_once_makes_one_invitation;
in tests/accounts/test_two_factor.py: test_one_backup_code_sent_twice_at_once_passes_once;
in tests/integration/test_invitation_delivery.py:
  test_two_task_messages_for_one_invitation_send_one_email.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from invitations import services as invitation_services
from invitations.models import Invitation
from invitations.tasks import invitation_send, invitations_requeue
from offices import services as office_services
from offices.models import Membership
from outsmart.audit.models import AuditEvent
from tests.factories import InvitationFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COOKIE = settings.SESSION_COOKIE_NAME
LINK = re.compile(r"https?://[^/\s]+/invitations/([A-Za-z0-9_-]+)/(?=\s)")


@dataclass(frozen=True)
class Served:
    started: float
    finished: float
    url: str
    status: int
    location: str
    body: str


@pytest.fixture
def report(request, capsys):
    """Writes a line of numbers to the terminal (what a race saw), past output capture."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n    {request.node.name}: {line}", flush=True)

    return write


def tab(session_key: str) -> Client:
    """A browser tab of the session `session_key`."""
    client = Client()
    client.cookies[COOKIE] = session_key
    return client


def run_threads(*targets) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


# --- 3. removal while the member works ---------------------------------------------------------
def test_removing_a_member_while_they_load_office_pages_refuses_every_later_request(
    monkeypatch, office, admin, staff, verified_login, report
):
    chart = PatientFactory(office=office, first_name="Ingrid", last_name="Halvorsen")
    pages = [
        reverse("records:schedule"),
        reverse("records:patients"),
        reverse("records:patient", args=[chart.pk]),
        reverse("offices:team"),
    ]
    member_session = verified_login(staff, client=Client()).cookies[COOKIE].value
    admin_session = verified_login(admin, client=Client()).cookies[COOKIE].value
    membership = Membership.objects.get(user=staff, office=office)

    # The moment the removal's transaction has committed (the service is atomic).
    moments: dict[str, float] = {}
    real_remove = office_services.membership_remove

    def remove_and_note(**kwargs):
        moments["requested"] = time.monotonic()
        result = real_remove(**kwargs)
        moments["committed"] = time.monotonic()
        return result

    monkeypatch.setattr(office_services, "membership_remove", remove_and_note)

    served: list[Served] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()
    loaders = len(pages)
    warmed_up = threading.Barrier(loaders + 1)

    def load(first: int) -> None:
        # Each loop presents the original cookie, as a tab opened before the removal would:
        # what is checked is the server's answer, not a browser forgetting its cookie.
        try:
            for i in range(10_000):
                if stop.is_set():
                    break
                url = pages[(first + i) % len(pages)]
                client = tab(member_session)
                started = time.monotonic()
                response = client.get(url)
                finished = time.monotonic()
                with lock:
                    served.append(
                        Served(
                            started,
                            finished,
                            url,
                            response.status_code,
                            response.get("Location", ""),
                            response.content.decode(),
                        )
                    )
                if i == 2:
                    warmed_up.wait(timeout=30)
        except BaseException as error:  # counted below: the test fails on any
            errors.append(error)
            warmed_up.abort()
        finally:
            connection.close()

    def remove() -> None:
        try:
            warmed_up.wait(timeout=30)  # every loader has been served pages by now
            response = tab(admin_session).post(reverse("offices:remove", args=[membership.pk]))
            assert response.status_code == 302
            # Let every loader make several requests after the commit, then stop them.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with lock:
                    later = [s for s in served if s.started > moments["committed"]]
                if len(later) >= 6 * loaders:
                    break
                time.sleep(0.02)
        except BaseException as error:
            errors.append(error)
        finally:
            stop.set()
            connection.close()

    run_threads(*[lambda n=n: load(n) for n in range(loaders)], remove)
    assert errors == []

    committed = moments["committed"]
    before = [s for s in served if s.finished < moments["requested"]]
    after = [s for s in served if s.started > committed]
    # The pages were really being served to the member until the removal...
    assert {s.url for s in before if s.status == 200} == set(pages)
    assert all(chart.last_name in s.body for s in before if "/patients/" in s.url)
    # ...and not one request that started after it committed got one.
    assert len(after) >= 6 * loaders
    for s in after:
        assert s.status == 302, (s.url, s.status)
        assert s.location.startswith(reverse("account_login")), s.location
        assert office.name not in s.body and chart.last_name not in s.body
    # Nothing failed while the two crossed (an in-flight request may have been either).
    assert not [s for s in served if s.status >= 500]

    # The session is ended on the server: gone from the database and the cache, and the old
    # cookie opens nothing, not even the member's own account pages.
    assert not Session.objects.filter(session_key=member_session).exists()
    from django.contrib.sessions.backends.cached_db import SessionStore

    assert not SessionStore().exists(member_session)
    response = tab(member_session).get(reverse("accounts:overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # The admin's own session is untouched.
    assert tab(admin_session).get(reverse("offices:team")).status_code == 200

    membership.refresh_from_db()
    assert membership.removed_at is not None and membership.removed_by == admin
    assert AuditEvent.objects.filter(action="membership.removed").count() == 1
    crossing = [s for s in served if s.started <= committed and s.finished >= moments["requested"]]
    report(
        f"{len(before)} pages served before the removal, {len(crossing)} crossing it "
        f"({sorted({s.status for s in crossing})}), {len(after)} started after the commit: "
        f"all {sorted({s.status for s in after})} to the login page"
    )


# --- 2. approve from many tabs ------------------------------------------------------------------
def test_approving_one_invitation_from_eight_tabs_at_once_makes_one_membership(
    office, admin, verified_login
):
    invitee = UserFactory(email="racer@example.com")  # with the address verified
    invitation = InvitationFactory(office=office, invited_by=admin, email=invitee.email)
    session = verified_login(invitee, client=Client()).cookies[COOKIE].value
    url = reverse("invitee:approve", args=[invitation.pk])
    start = threading.Barrier(8)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def approve() -> None:
        try:
            client = tab(session)
            start.wait(timeout=10)
            response = client.post(url)
            answers.append((response.status_code, response.get("Location", "")))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    run_threads(*[approve] * 8)
    assert errors == []
    assert len(answers) == 8
    # One tab joined (sent home); the seven others were told it is already accepted.
    joined = [a for a in answers if a == (302, reverse("home"))]
    refused = [a for a in answers if a == (302, reverse("invitee:detail", args=[invitation.pk]))]
    assert (len(joined), len(refused)) == (1, 7), answers
    assert Membership.objects.filter(user=invitee, office=office).count() == 1
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.responded_by == invitee
    assert AuditEvent.objects.filter(action="invitation.approved").count() == 1
    page = tab(session).get(reverse("invitee:detail", args=[invitation.pk]), follow=True)
    assert page.status_code == 200


# --- 4. resend and revoke at once ---------------------------------------------------------------
def test_resend_and_revoke_clicked_at_once_always_end_revoked_with_no_working_link(
    office, admin, verified_login
):
    session = verified_login(admin, client=Client()).cookies[COOKIE].value
    for round_number in range(6):
        invitation = InvitationFactory(
            office=office, invited_by=admin, email=f"both{round_number}@example.com"
        )
        first_token = invitation.token
        mail.outbox.clear()
        start = threading.Barrier(2)
        answers: dict[str, int] = {}
        errors: list[BaseException] = []

        def click(action: str, invitation=invitation, start=start, answers=answers, errors=errors):
            try:
                client = tab(session)
                start.wait(timeout=10)
                url = reverse(f"invitations:{action}", args=[invitation.pk])
                answers[action] = client.post(url).status_code
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        run_threads(lambda: click("resend"), lambda: click("revoke"))
        assert errors == []
        assert answers == {"resend": 302, "revoke": 302}

        invitation.refresh_from_db()
        assert invitation.status == "revoked"
        events = list(
            AuditEvent.objects.filter(target_id=str(invitation.pk))
            .order_by("created_at", "pk")
            .values_list("action", flat=True)
        )
        assert events.count("invitation.revoked") == 1
        assert events.count("invitation.resent") <= 1
        # Whatever the order, no link of this invitation works any more...
        links = [m for m in mail.outbox if invitation.email in m.to]
        tokens = [first_token] + [t for m in links for t in LINK.findall(m.body)]
        for token in tokens:
            found = invitation_services.invitation_by_token(token)
            assert found is None or found.status == "revoked"
        if "invitation.resent" not in events:
            assert links == []  # a refused resend sends nothing
        # ...and nothing is left for a worker or the sweep to send later.
        assert invitation_send(invitation.pk) == "skipped"
        assert invitations_requeue() == 0
        assert len([m for m in mail.outbox if invitation.email in m.to]) == len(links)
    assert Invitation.objects.filter(status="pending").count() == 0
