"""The Practitioners and Staff tab of a big office: one pager for both columns (25 of each
list a page, totals in the headings), a search over names and emails, and a number of queries
that does not depend on the office's size or the page."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invitations.models import Invitation
from offices.models import Membership
from offices.selectors import MEMBER_ORDER
from outsmart.audit.models import AuditEvent
from tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

TEAM = "/office/team/"
# user, two-factor device, the person's memberships (office_view); the members of both columns;
# the pending invitations of both columns (admins only); the invitations addressed to the
# person themselves (the banner on every page).
ADMIN_QUERIES = 6
MEMBER_QUERIES = 5


def team(client, **params):
    return client.get(reverse("offices:team"), params)


def columns(body: str) -> tuple[str, str]:
    left, right = body.split('id="col-staff"')
    return left, right


def members(column: str) -> list[str]:
    """The emails of the members listed in a column, in order."""
    return re.findall(r'<div class="meta">([^<\s]+) · joined', column.split("pending-title")[0])


def invitees(column: str) -> list[str]:
    return re.findall(r'aria-label="Revoke invitation to ([^"]+)"', column)


def add_members(office, role: str, count: int, prefix: str) -> None:
    # Few distinct names: most people share their first and last name with others, so the
    # order between them (and across page boundaries) rests on the email.
    for i in range(count):
        MembershipFactory(
            office=office,
            role=role,
            user__first_name=("Ann", "Bo", "Cy")[i % 3],
            user__last_name=("Ng", "Smith")[i % 2],
            user__email=f"{prefix}{i:03d}@lakeside.example",
        )


def add_invitations(office, admin, role: str, count: int, prefix: str) -> None:
    # Many created at the same instant: the newest-first order between them rests on the id.
    moment = timezone.now()
    for i in range(count):
        InvitationFactory(
            office=office,
            invited_by=admin,
            role=role,
            email=f"{prefix}{i:03d}@example.com",
            created_at=moment - timedelta(minutes=i // 10),
        )


def expected_members(office, role: str) -> list[str]:
    """The whole list in the tab's order, as the unpaged tab showed it."""
    return list(
        Membership.objects.active()
        .filter(office=office, role=role)
        .order_by(*MEMBER_ORDER)
        .values_list("user__email", flat=True)
    )


def expected_invitees(office, role: str) -> list[str]:
    return list(
        Invitation.objects.filter(office=office, role=role, status="pending")
        .order_by("-created_at", "-pk")
        .values_list("email", flat=True)
    )


@pytest.fixture
def big_office(office, admin, practitioner, staff):
    """60 practitioners (the admin among them), 53 staff, 30 pending invitations of
    practitioners and 7 of staff: three pages."""
    add_members(office, "practitioner", 58, "p")
    add_members(office, "staff", 52, "s")
    add_invitations(office, admin, "practitioner", 30, "inv-p")
    add_invitations(office, admin, "staff", 7, "inv-s")
    return office


def snapshot():
    return (
        list(Membership.objects.values_list("pk", "removed_at", "role", "is_admin")),
        list(Invitation.objects.values_list("pk", "status", "token_digest")),
        AuditEvent.objects.count(),
    )


# The personas, with names no search below looks for (the shared ones have random names).
@pytest.fixture
def admin(office):
    return MembershipFactory(
        office=office,
        role="practitioner",
        is_admin=True,
        user__first_name="Amelia",
        user__last_name="Hart",
        user__email="admin@lakeside.example",
    ).user


@pytest.fixture
def practitioner(office):
    return MembershipFactory(
        office=office,
        role="practitioner",
        user__first_name="Dora",
        user__last_name="Who",
        user__email="dr.who@lakeside.example",
    ).user


@pytest.fixture
def staff(office):
    return MembershipFactory(
        office=office,
        role="staff",
        user__first_name="Desk",
        user__last_name="Keeper",
        user__email="desk@lakeside.example",
    ).user


# --- paging ------------------------------------------------------------------------------------
def test_each_column_shows_25_members_and_25_invitations_under_headings_that_count_everyone(
    client, admin, big_office, verified_login
):
    verified_login(admin)
    body = team(client).content.decode()
    left, right = columns(body)
    assert len(members(left)) == len(members(right)) == 25
    assert len(invitees(left)) == 25 and len(invitees(right)) == 7
    assert 'Practitioners <span class="count">(60)</span>' in left
    assert 'Staff <span class="count">(53)</span>' in right
    assert 'Pending invitations <span class="count">(30)</span>' in left
    assert 'Pending invitations <span class="count">(7)</span>' in right
    assert "Showing 1–25 of 60" in left and "Showing 1–25 of 30" in left
    assert "Showing 1–25 of 53" in right
    assert "Showing 1–7" not in right  # a list that fits on one page needs no range
    assert "Page 1 of 3" in body
    assert members(left)[0] == admin.email  # admins first, as always


def test_paging_shows_everyone_once_in_the_tabs_order_across_page_boundaries(
    client, admin, big_office, verified_login
):
    verified_login(admin)
    seen = {"left": [], "right": [], "left_inv": [], "right_inv": []}
    for number in (1, 2, 3):
        left, right = columns(team(client, page=number).content.decode())
        seen["left"] += members(left)
        seen["right"] += members(right)
        seen["left_inv"] += invitees(left)
        seen["right_inv"] += invitees(right)
    assert seen["left"] == expected_members(big_office, "practitioner")
    assert seen["right"] == expected_members(big_office, "staff")
    assert seen["left_inv"] == expected_invitees(big_office, "practitioner")
    assert seen["right_inv"] == expected_invitees(big_office, "staff")
    assert len(seen["left"]) == 60 and len(set(seen["left"])) == 60
    assert len(seen["right"]) == 53 and len(set(seen["right"])) == 53


def test_later_pages_keep_the_totals_and_say_when_a_list_has_ended(
    client, admin, big_office, verified_login
):
    verified_login(admin)
    body = team(client, page=2).content.decode()
    left, right = columns(body)
    assert 'Pending invitations <span class="count">(7)</span>' in right
    assert "No more pending invitations on this page." in right
    assert "Showing 26–50 of 60" in left and "Showing 26–30 of 30" in left
    last = team(client, page=3).content.decode()
    left, right = columns(last)
    assert 'Practitioners <span class="count">(60)</span>' in left
    assert "Showing 51–60 of 60" in left and "Showing 51–53 of 53" in right
    assert "No more pending invitations on this page." in left


def test_the_pager_links_to_the_pages_before_and_after(client, admin, big_office, verified_login):
    verified_login(admin)
    first = team(client).content.decode()
    assert 'href="/office/team/?page=2" rel="next" aria-label="Next page"' in first
    assert 'aria-label="Previous page"' not in first  # shown, but not a link
    middle = team(client, page=2).content.decode()
    assert 'href="/office/team/" rel="prev" aria-label="Previous page"' in middle
    assert 'href="/office/team/?page=3" rel="next" aria-label="Next page"' in middle
    assert "Page 2 of 3" in middle
    last = team(client, page=3).content.decode()
    assert 'aria-label="Next page"' not in last and "Page 3 of 3" in last


def test_an_office_of_normal_size_has_no_pager(client, admin, practitioner, staff, verified_login):
    verified_login(admin)
    body = team(client).content.decode()
    assert "Page 1 of" not in body and "Showing" not in body
    assert 'aria-label="Next page"' not in body


def test_25_people_fit_on_one_page_and_26_need_two(client, admin, office, verified_login):
    add_members(office, "staff", 25, "s")
    verified_login(admin)
    assert "Page 1 of" not in team(client).content.decode()
    add_members(office, "staff", 1, "t")
    assert "Page 1 of 2" in team(client).content.decode()


@pytest.mark.parametrize(
    "page", ["0", "-1", "-0", "abc", "1.5", "", " 2", "2 ", "1e3", "٢", "0x2", "%00", "\x00", "2/"]
)
def test_a_page_that_is_no_page_number_shows_the_first_page(
    client, admin, big_office, verified_login, page
):
    verified_login(admin)
    before = snapshot()
    response = team(client, page=page)
    assert response.status_code == 200
    assert "Page 1 of 3" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("page", ["4", "99", "99999999999999999999", "1" * 300])
def test_a_page_past_the_end_leads_to_the_last_page(
    client, admin, big_office, verified_login, page
):
    verified_login(admin)
    before = snapshot()
    response = team(client, page=page)
    assert response.status_code == 302 and response.url == "/office/team/?page=3"
    assert "Page 3 of 3" in client.get(response.url).content.decode()
    assert snapshot() == before


def test_a_repeated_page_parameter_is_read_once(client, admin, big_office, verified_login):
    verified_login(admin)
    response = client.get(f"{TEAM}?page=2&page=3&page=x")
    assert response.status_code == 200 and "Page 1 of 3" in response.content.decode()
    response = client.get(f"{TEAM}?page=x&page=2")
    assert response.status_code == 200 and "Page 2 of 3" in response.content.decode()


def test_a_page_past_the_end_of_a_small_office_is_its_only_page(client, admin, verified_login):
    verified_login(admin)
    response = team(client, page="7")
    assert response.status_code == 302 and response.url == TEAM


# --- search ------------------------------------------------------------------------------------
@pytest.fixture
def named_office(office, admin):
    for first, last, email, role in [
        ("Anna", "Smith", "anna.smith@lakeside.example", "practitioner"),
        ("Annabel", "Lee", "bel@lakeside.example", "staff"),
        ("Daniel", "Chen", "dchen@mail.example", "practitioner"),
        ("Maria", "Lopez", "front.desk@lakeside.example", "staff"),
        ("Tom", "Becker", "tom@lakeside.example", "staff"),
    ]:
        MembershipFactory(
            office=office,
            role=role,
            user__first_name=first,
            user__last_name=last,
            user__email=email,
        )
    InvitationFactory(
        office=office, invited_by=admin, role="staff", name="Priya Nair", email="pn@x.example"
    )
    InvitationFactory(
        office=office, invited_by=admin, role="practitioner", email="annie.w@clinic.example"
    )
    return office


@pytest.mark.parametrize(
    "query, left, right",
    [
        ("Anna", ["anna.smith@lakeside.example"], ["bel@lakeside.example"]),  # first names
        ("smith", ["anna.smith@lakeside.example"], []),  # last name, any case
        ("LOPEZ", [], ["front.desk@lakeside.example"]),
        ("Anna Smith", ["anna.smith@lakeside.example"], []),  # full name
        ("  smith   anna ", ["anna.smith@lakeside.example"], []),  # any order, trimmed
        ("ann smi", ["anna.smith@lakeside.example"], []),  # parts of words
        ("front.desk@", [], ["front.desk@lakeside.example"]),  # email
        ("MAIL.EXAMPLE", ["dchen@mail.example"], []),
    ],
)
def test_search_finds_members_by_first_last_or_full_name_or_email_in_both_columns(
    client, admin, named_office, verified_login, query, left, right
):
    verified_login(admin)
    response = team(client, q=query)
    assert response.status_code == 200
    body_left, body_right = columns(response.content.decode())
    assert members(body_left) == left
    assert members(body_right) == right


def test_search_finds_pending_invitations_by_name_or_email(
    client, admin, named_office, verified_login
):
    verified_login(admin)
    left, right = columns(team(client, q="priya").content.decode())
    assert invitees(right) == ["pn@x.example"] and invitees(left) == []
    assert "No staff match “priya”; see the pending invitations below." in right
    assert "No one matches “priya”." in left
    left, right = columns(team(client, q="annie").content.decode())
    assert invitees(left) == ["annie.w@clinic.example"]
    left, right = columns(team(client, q="ann").content.decode())
    assert invitees(left) == ["annie.w@clinic.example"] and members(right) == [
        "bel@lakeside.example"
    ]
    assert 'Pending invitations <span class="count">(1)</span>' in left


def test_a_search_that_finds_no_one_says_so_in_each_column(
    client, admin, named_office, verified_login
):
    verified_login(admin)
    body = team(client, q="zzz").content.decode()
    left, right = columns(body)
    assert "No one matches “zzz”." in left and "No one matches “zzz”." in right
    assert 'Practitioners <span class="count">(0)</span>' in left
    assert 'value="zzz"' in body and f'href="{TEAM}">Clear</a>' in body


def test_the_search_box_is_there_without_a_clear_link_until_a_search_is_made(
    client, admin, named_office, verified_login
):
    verified_login(admin)
    body = team(client).content.decode()
    assert '<label for="id_q">Search people</label>' in body
    assert 'name="q"' in body and ">Search</button>" in body
    assert ">Clear</a>" not in body
    assert ">Clear</a>" not in team(client, q="   ").content.decode()


def test_search_and_paging_work_together(client, admin, office, verified_login):
    for i in range(40):
        MembershipFactory(
            office=office,
            role="staff",
            user__first_name="Maria",
            user__last_name="Lopez",
            user__email=f"m{i:02d}@lakeside.example",
        )
    add_members(office, "staff", 30, "other")
    verified_login(admin)
    first = team(client, q="lopez").content.decode()
    assert 'Staff <span class="count">(40)</span>' in first
    assert "Page 1 of 2" in first
    assert 'href="/office/team/?q=lopez&amp;page=2" rel="next"' in first
    second = team(client, q="lopez", page=2).content.decode()
    assert 'href="/office/team/?q=lopez" rel="prev"' in second
    shown = members(columns(first)[1]) + members(columns(second)[1])
    assert shown == [f"m{i:02d}@lakeside.example" for i in range(40)]
    assert team(client, q="lopez", page=3).url == "/office/team/?q=lopez&page=2"
    assert "Page 1 of" not in team(client, q="m07@").content.decode()


# --- refused searches ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query, message",
    [
        ("a" * 101, "Search for at most 100 characters"),
        ("x" * 5000, "Search for at most 100 characters"),
        ("ann\x00", "The search contains control characters"),
        ("\x1b[31mann", "The search contains control characters"),
        ("ann\nsmith", "The search contains control characters"),
        ("ann\tsmith", "The search contains control characters"),
        ("ann\u202esmith", "The search contains control characters"),
        ("ann\x7f", "The search contains control characters"),
    ],
)
def test_a_search_that_is_too_long_or_holds_control_characters_gets_a_clear_message(
    client, admin, named_office, verified_login, query, message
):
    verified_login(admin)
    before = snapshot()
    response = team(client, q=query, page="2")
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'aria-invalid="true"' in body and ">Clear</a>" in body
    # The team is shown unfiltered, and nothing of what was typed reaches the page raw.
    assert len(members(columns(body)[0])) == 3
    assert "\x00" not in body and "\x1b" not in body and "\u202e" not in body
    assert snapshot() == before


def test_a_search_of_exactly_100_characters_is_fine(client, admin, named_office, verified_login):
    verified_login(admin)
    response = team(client, q="a" * 100)
    assert response.status_code == 200
    assert "No one matches" in response.content.decode()


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onfocus='alert(1)' autofocus x='",
    "</textarea><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ request.user.password }}",
]


@pytest.mark.parametrize("query", XSS)
def test_the_search_is_escaped_wherever_it_is_shown(client, admin, office, verified_login, query):
    add_members(office, "staff", 30, "s")
    verified_login(admin)
    body = team(client, q=query).content.decode()
    if "<" in query or '"' in query or "'" in query:
        assert query not in body
    assert "<script>alert" not in body and "<img src=x" not in body and "<svg" not in body
    assert f'value="{html.escape(query)}"' in body
    assert f"No one matches “{html.escape(query)}”." in body
    assert "pbkdf2" not in body and "argon2" not in body


def test_the_search_is_escaped_in_the_pager_links(client, admin, office, verified_login):
    for i in range(30):
        MembershipFactory(
            office=office,
            role="staff",
            user__first_name='<b>"Bo"</b>',
            user__last_name="Ng&Co",
            user__email=f"bo{i:02d}@lakeside.example",
        )
    verified_login(admin)
    body = team(client, q='<b>"bo"</b> ng&co').content.decode()
    assert "Page 1 of 2" in body
    assert 'href="/office/team/?q=%3Cb%3E%22bo%22%3C%2Fb%3E+ng%26co&amp;page=2"' in body
    assert "<b>" not in body


# --- who sees what -------------------------------------------------------------------------------
def test_another_offices_members_and_invitations_never_appear_even_when_searched_for(
    client, admin, big_office, outsider, other_office, verified_login
):
    add_members(other_office, "staff", 40, "hilltopper")
    InvitationFactory(office=other_office, invited_by=outsider, email="hilltop-invite@example.com")
    verified_login(admin)
    for params in ({}, {"page": 2}, {"page": 3}, {"q": "hilltop"}, {"q": "boss@hilltop"}):
        body = team(client, **params).content.decode()
        left, right = columns(body)
        listed = members(left) + members(right) + invitees(left) + invitees(right)
        assert not [email for email in listed if "hilltop" in email]
        assert "boss@hilltop.example" not in body and "hilltopper0" not in body
        assert "hilltop-invite@example.com" not in body
    body = team(client, q="hilltop").content.decode()
    assert body.count("No one matches “hilltop”.") == 2


def test_a_member_who_cannot_manage_pages_and_searches_members_only(
    client, admin, staff, big_office, verified_login
):
    verified_login(staff)
    body = team(client).content.decode()
    assert ">Remove</a>" not in body and "Pending invitations" not in body
    assert "Revoke" not in body and "inv-p" not in body
    # The invitations are not theirs to see, so they do not make pages either.
    assert "Page 1 of 3" in body
    left, right = columns(team(client, page=3).content.decode())
    assert len(members(left)) == 10 and len(members(right)) == 3
    found = team(client, q="inv-p").content.decode()
    assert found.count("No one matches “inv-p”.") == 2
    assert "see the pending invitations" not in found
    body = team(client, q="s00").content.decode()
    assert sorted(members(columns(body)[1])) == [f"s{i:03d}@lakeside.example" for i in range(10)]


@pytest.mark.parametrize("size", [3, 300])
def test_the_tab_costs_the_same_queries_whatever_the_office_size(
    client, admin, office, verified_login, django_assert_num_queries, size
):
    # `size` active members (the admin among them), as many pending invitations, and removed
    # members who must not count.
    staff = size // 2
    MembershipFactory.create_batch(staff, office=office, role="staff")
    MembershipFactory.create_batch(size - 1 - staff, office=office, role="practitioner")
    MembershipFactory.create_batch(3, office=office, role="staff", removed_at=timezone.now())
    InvitationFactory.create_batch(size // 2, office=office, invited_by=admin, role="staff")
    InvitationFactory.create_batch(size - size // 2, office=office, invited_by=admin)
    verified_login(admin)
    client.get(TEAM)  # the session is cached from the second request on
    with django_assert_num_queries(ADMIN_QUERIES):
        response = client.get(TEAM)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count(">Remove</a>") == min(size - 1, 49)
    assert f'Staff <span class="count">({staff})</span>' in body


@pytest.mark.parametrize(
    "params", [{}, {"page": 5}, {"page": 6}, {"q": "example"}, {"q": "a", "page": 2}]
)
def test_every_page_and_search_of_a_big_office_costs_the_same_queries(
    client, admin, staff, office, verified_login, django_assert_num_queries, params
):
    MembershipFactory.create_batch(150, office=office, role="staff")
    MembershipFactory.create_batch(148, office=office, role="practitioner")
    InvitationFactory.create_batch(150, office=office, invited_by=admin, role="staff")
    InvitationFactory.create_batch(150, office=office, invited_by=admin, role="practitioner")
    verified_login(admin)
    client.get(TEAM)
    with django_assert_num_queries(ADMIN_QUERIES):
        response = team(client, **params)
    assert response.status_code == 200
    from django.test import Client

    other = verified_login(staff, client=Client())
    other.get(TEAM)
    with django_assert_num_queries(MEMBER_QUERIES):
        assert team(other, **params).status_code == 200


# --- coming back after Remove, Resend and Revoke -------------------------------------------------
@pytest.fixture
def lopez_office(office, admin):
    for i in range(40):
        MembershipFactory(
            office=office,
            role="staff",
            user__first_name="Maria",
            user__last_name="Lopez",
            user__email=f"m{i:02d}@lakeside.example",
        )
    add_invitations(office, admin, "staff", 30, "lopez")
    return office


def test_remove_from_a_search_result_page_comes_back_to_that_page(
    client, admin, lopez_office, verified_login
):
    verified_login(admin)
    target = Membership.objects.get(user__email="m30@lakeside.example")
    link = f"/office/team/{target.pk}/remove/?q=lopez&amp;page=2"
    assert link in team(client, q="lopez", page=2).content.decode()
    confirm = client.get(html.unescape(link)).content.decode()
    assert 'href="/office/team/?q=lopez&amp;page=2">Cancel</a>' in confirm
    response = client.post(html.unescape(link), follow=True)
    assert response.redirect_chain == [("/office/team/?q=lopez&page=2", 302)]
    body = response.content.decode()
    assert "was removed from Lakeside Clinic" in body
    assert 'Staff <span class="count">(39)</span>' in body
    target.refresh_from_db()
    assert target.removed_at is not None


def test_removing_the_only_person_on_the_last_page_lands_on_the_page_before(
    client, admin, office, verified_login
):
    add_members(office, "staff", 26, "s")
    verified_login(admin)
    last = Membership.objects.filter(office=office, role="staff").order_by(*MEMBER_ORDER).last()
    response = client.post(f"/office/team/{last.pk}/remove/?page=2", follow=True)
    assert [url for url, _ in response.redirect_chain] == ["/office/team/?page=2", TEAM]
    assert "was removed from" in response.content.decode()


def test_resend_and_revoke_come_back_to_the_search_and_page(
    client, admin, lopez_office, verified_login
):
    verified_login(admin)
    invitation = Invitation.objects.filter(office=lopez_office).order_by("created_at", "pk")[0]
    body = team(client, q="lopez", page=2).content.decode()
    for action in ("resend", "revoke"):
        assert f'action="/office/invitations/{invitation.pk}/{action}/?q=lopez&amp;page=2"' in body
    response = client.post(f"/office/invitations/{invitation.pk}/resend/?q=lopez&page=2")
    assert response.url == "/office/team/?q=lopez&page=2"
    response = client.post(f"/office/invitations/{invitation.pk}/revoke/?q=lopez&page=2")
    assert response.url == "/office/team/?q=lopez&page=2"


@pytest.mark.parametrize(
    "query",
    [
        "next=https://evil.example&q=a",
        "q=a&page=2&next=//evil.example",
        "q=" + "a" * 500,
        "q=%00&page=-4",
        "page=99999999999999999999",
    ],
)
def test_coming_back_reads_only_the_search_and_page(
    client, admin, staff, lopez_office, verified_login, query
):
    verified_login(admin)
    response = client.post(f"/office/team/{staff.memberships.get().pk}/remove/?{query}")
    assert response.status_code == 302
    assert response.url.startswith(TEAM) and "evil" not in response.url
    assert client.get(response.url, follow=True).status_code == 200
