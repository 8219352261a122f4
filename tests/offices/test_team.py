import re

import pytest
import time_machine
from django.urls import reverse

from offices.models import Membership
from outsmart.audit.models import AuditEvent
from tests.factories import InvitationFactory, MembershipFactory, OfficeFactory

pytestmark = pytest.mark.django_db


def remove_url(user):
    return reverse("offices:remove", args=[user.memberships.get().pk])


def test_team_tab_lists_practitioners_left_and_staff_right_with_remove_for_admins(
    client, admin, practitioner, staff, removed_member, verified_login
):
    verified_login(admin)
    body = client.get(reverse("offices:team")).content.decode()
    left, right = body.split('id="col-staff"')
    assert practitioner.email in left and admin.email in left
    assert staff.email in right
    assert removed_member.email not in body
    assert "Invite Practitioner" in left and "Invite Staff" in right
    assert body.count(">Remove</a>") == 2  # not next to the admin themselves


def test_non_admin_sees_the_team_without_remove_buttons(client, admin, staff, verified_login):
    verified_login(staff)
    body = client.get(reverse("offices:team")).content.decode()
    assert admin.email in body
    assert ">Remove</a>" not in body


def test_remove_asks_for_confirmation_and_get_changes_nothing(client, admin, staff, verified_login):
    verified_login(admin)
    page = client.get(remove_url(staff)).content.decode()
    assert "the schedule" in page and "patient list" in page
    assert staff.memberships.get().removed_at is None


def test_removal_takes_effect_on_the_very_next_request_and_tells_the_person(
    client, admin, staff, verified_login, mailoutbox, django_capture_on_commit_callbacks
):
    from django.test import Client

    staff_client = verified_login(staff, client=Client())
    assert staff_client.get(reverse("records:patients")).status_code == 200
    verified_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove_url(staff), follow=True)
    assert "was removed from" in response.content.decode()
    membership = Membership.objects.get(user=staff)
    assert membership.removed_at is not None and membership.removed_by == admin
    for url in ("records:patients", "records:schedule", "offices:team"):
        # Access ends, and so does the session: the old cookie leads to the login page.
        response = staff_client.get(reverse(url))
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    assert mailoutbox[-1].to == [staff.email]
    assert "removed from Lakeside Clinic" in mailoutbox[-1].subject
    event = AuditEvent.objects.get(action="membership.removed")
    assert (event.actor, event.office_id, event.target_id) == (
        admin,
        membership.office_id,
        str(staff.pk),
    )


def test_removed_member_of_two_offices_keeps_the_other_one(client, admin, staff, verified_login):
    url = remove_url(staff)
    other = MembershipFactory(user=staff, office=OfficeFactory(name="Second Clinic"), role="staff")
    from django.test import Client

    staff_client = verified_login(staff, client=Client())
    session = staff_client.session
    session["current_office_id"] = admin.memberships.get().office_id
    session.save()
    verified_login(admin)
    client.post(url)
    # The removal ended the session; logged in again, the other office is still theirs.
    assert staff_client.get(reverse("records:patients")).status_code == 302
    staff.refresh_from_db()
    verified_login(staff, client=staff_client)
    page = staff_client.get(reverse("records:patients"))
    assert page.status_code == 200
    assert "Second Clinic" in page.content.decode()
    assert staff_client.session["current_office_id"] == other.office_id


def test_removing_an_already_removed_member_changes_nothing(
    client, admin, removed_member, verified_login
):
    verified_login(admin)
    membership = Membership.objects.get(user=removed_member)
    before = membership.removed_at
    response = client.post(reverse("offices:remove", args=[membership.pk]), follow=True)
    assert "already removed" in response.content.decode()
    membership.refresh_from_db()
    assert membership.removed_at == before


def test_member_of_another_office_cannot_be_removed_404(client, admin, outsider, verified_login):
    verified_login(admin)
    response = client.post(reverse("offices:remove", args=[outsider.memberships.get().pk]))
    assert response.status_code == 404
    assert outsider.memberships.get().removed_at is None


def test_non_admin_posting_a_removal_is_refused_and_audited(
    client, practitioner, staff, verified_login
):
    verified_login(practitioner)
    assert client.post(remove_url(staff)).status_code == 403
    assert staff.memberships.get().removed_at is None
    denied = AuditEvent.objects.get(action="access.denied")
    assert denied.actor == practitioner
    assert denied.detail["needs"] == "can_manage_team"


def test_last_admin_cannot_leave_but_can_once_there_is_another(
    client, admin, practitioner, verified_login
):
    verified_login(admin)
    assert client.get(remove_url(admin)).url == reverse("offices:leave")
    response = client.post(reverse("offices:leave"), follow=True)
    assert "last admin" in response.content.decode()
    assert admin.memberships.get().removed_at is None
    Membership.objects.filter(user=practitioner).update(is_admin=True)
    client.post(reverse("offices:leave"))
    assert Membership.objects.get(user=admin).removed_at is not None
    assert AuditEvent.objects.filter(action="membership.left", actor=admin).exists()


def test_two_admins_removing_each_other_leaves_one_admin(admin, practitioner, rf):
    from offices.services import MembershipError, membership_remove

    Membership.objects.filter(user=practitioner).update(is_admin=True)
    request = rf.post("/")
    membership_remove(membership=practitioner.memberships.get(), removed_by=admin, request=request)
    with pytest.raises(MembershipError):
        membership_remove(
            membership=admin.memberships.get(), removed_by=practitioner, request=request
        )


def test_forged_office_in_session_shows_nothing_of_that_office(
    client, staff, other_office, verified_login
):
    verified_login(staff)
    session = client.session
    session["current_office_id"] = other_office.pk
    session.save()
    body = client.get(reverse("records:patients")).content.decode()
    assert other_office.name not in body
    assert client.post(reverse("offices:switch"), {"office": other_office.pk}).status_code == 404
    assert client.post(reverse("offices:switch"), {"office": "1 OR 1=1"}).status_code == 404


def test_member_of_two_offices_switches_between_them(client, staff, verified_login):
    second = MembershipFactory(
        user=staff, office=OfficeFactory(name="Second Clinic"), role="practitioner"
    )
    verified_login(staff)
    page = client.get(reverse("offices:detail")).content.decode()
    assert 'id="office-switch"' in page
    client.post(reverse("offices:switch"), {"office": second.office_id})
    page = client.get(reverse("offices:detail")).content.decode()
    assert "<h1>Second Clinic</h1>" in page


def test_team_tab_query_count_does_not_grow_with_the_office(client, admin, office, verified_login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    verified_login(admin)
    MembershipFactory.create_batch(2, office=office, role="staff")
    InvitationFactory(office=office, invited_by=admin)
    client.get(reverse("offices:team"))  # the session is cached from the second request on
    with CaptureQueriesContext(connection) as small_queries:
        small = client.get(reverse("offices:team"))
    MembershipFactory.create_batch(150, office=office, role="staff")
    MembershipFactory.create_batch(147, office=office, role="practitioner")
    InvitationFactory.create_batch(150, office=office, invited_by=admin, role="staff")
    InvitationFactory.create_batch(149, office=office, invited_by=admin, role="practitioner")
    with CaptureQueriesContext(connection) as big_queries:
        big = client.get(reverse("offices:team"))
    assert small.status_code == big.status_code == 200
    body = big.content.decode()
    # The tab shows a page of 25 of each list (the admin has no Remove next to their own
    # name), under headings that count everyone, and every one of the 299 others can be
    # removed from one of its pages.
    assert body.count(">Remove</a>") == 24 + 25
    assert body.count(">Resend</button>") == body.count(">Revoke</button>") == 25 + 25
    assert '<span class="count">(148)</span>' in body and '<span class="count">(152)</span>' in body
    assert "Page 1 of 7" in body
    pages = [client.get(reverse("offices:team"), {"page": n}).content.decode() for n in range(1, 8)]
    assert sum(page.count(">Remove</a>") for page in pages) == 299
    assert sum(page.count(">Revoke</button>") for page in pages) == 300
    assert len(big_queries) == len(small_queries) <= 12


def test_unfinished_setup_disables_invitations_and_admin_completes_it(
    client, admin, office, verified_login
):
    office.setup_completed_at = None
    office.save()
    verified_login(admin)
    assert client.get(reverse("home")).url == reverse("offices:edit")
    team = client.get(reverse("offices:team")).content.decode()
    assert "setup is not complete" in team
    assert 'aria-disabled="true"' in team
    bad = client.post(
        reverse("offices:edit"),
        {"name": "", "address": "x", "phone": "call me", "time_zone": "Mars/Base"},
    )
    assert bad.status_code == 400
    office.refresh_from_db()
    assert office.setup_completed_at is None
    response = client.post(
        reverse("offices:edit"),
        {
            "name": "  Lakeside   Family Clinic ",
            "address": "1 Lake Rd\n\nToronto",
            "phone": "+1 (416) 555-0101",
            "time_zone": "America/Vancouver",
            "require_two_factor": "on",
        },
    )
    assert response.url == reverse("offices:team")
    office.refresh_from_db()
    assert office.name == "Lakeside Family Clinic"
    assert office.address == "1 Lake Rd\nToronto"
    assert office.setup_completed_at is not None
    assert AuditEvent.objects.filter(action="office.setup_completed", office=office).exists()


def test_activity_tab_is_newest_first_filterable_and_paginated(
    client, admin, staff, office, verified_login
):
    from outsmart.audit.services import audit_record

    for i in range(55):
        audit_record(action="office.updated", actor=admin, office=office, detail={"i": i})
    audit_record(action="membership.removed", actor=staff, office=office)
    audit_record(action="office.updated", actor=admin)  # no office: not shown
    verified_login(admin)
    first = client.get(reverse("offices:activity")).content.decode()
    assert first.index("membership.removed") < first.index("office.updated")
    assert "Page 1 of 2" in first
    only = client.get(reverse("offices:activity"), {"action": "membership.removed"})
    assert only.content.decode().count("<code>membership.removed</code>") == 1
    assert "<code>office.updated</code>" not in only.content.decode()
    by_staff = client.get(reverse("offices:activity"), {"person": staff.pk}).content.decode()
    assert "<code>office.updated</code>" not in by_staff
    junk = client.get(
        reverse("offices:activity"), {"person": "abc", "page": "999999", "action": "<script>"}
    )
    assert junk.status_code == 200


def test_clinic_session_ends_after_30_minutes_idle(client, staff, verified_login):
    with time_machine.travel("2026-11-21 09:00:00Z", tick=False) as clock:
        verified_login(staff)
        assert client.get(reverse("records:patients")).status_code == 200
        clock.shift(29 * 60)
        assert client.get(reverse("records:patients")).status_code == 200
        clock.shift(31 * 60)
        response = client.get(reverse("records:patients"))
        assert response.status_code == 302
        assert re.match(r"^/accounts/login/", response.url)
        assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.idle_timeout", actor=staff).exists()


def test_team_tab_dates_are_in_the_office_time_zone(client, admin, office, verified_login):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    office.time_zone = "America/Vancouver"
    office.save()
    utc = ZoneInfo("UTC")
    member = MembershipFactory(office=office, role="staff", user__first_name="Late")
    member.joined_at = datetime(2026, 3, 1, 5, 30, tzinfo=utc)  # Feb 28, 9:30 PM in Vancouver
    member.save()
    InvitationFactory(
        office=office,
        invited_by=admin,
        email="evening@example.com",
        sent_at=datetime(2026, 3, 1, 5, 5, tzinfo=utc),
        expires_at=datetime(2026, 3, 15, 5, 5, tzinfo=utc),
    )
    verified_login(admin)
    page = client.get(reverse("offices:team")).content.decode()
    assert "joined Feb 28, 2026" in page
    assert "sent Feb 28, 2026, 9:05 PM" in page
    assert "Expired Mar 14" in page  # the sweep has not closed it yet
