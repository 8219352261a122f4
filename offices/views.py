"""Office Details page: the Details, Practitioners and Staff, and Activity tabs; removal."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from offices import services
from offices.access import SESSION_KEY, office_view
from offices.forms import (
    ActivityFilterForm,
    OfficeForm,
    TeamSearchForm,
    team_query,
    team_return_url,
    team_url,
)
from offices.models import Membership, Role
from offices.permissions import Perm
from offices.selectors import TEAM_PAGE_SIZE, office_team
from outsmart.audit.models import AuditEvent
from outsmart.http import reverse_for_ids
from outsmart.paging import Slice, page_count, page_number
from outsmart.text import single_line

ACTIVITY_PAGE_SIZE = 50


def _invite_url(role: str) -> str | None:
    # The invitation form belongs to the invitations app; until it exists the links are shown
    # disabled rather than pointing nowhere.
    try:
        return reverse("invitations:create", kwargs={"role": role})
    except NoReverseMatch:
        return None


@office_view(Perm.VIEW_OFFICE)
def office_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "offices/detail.html", {"tab": "details"})


@office_view(Perm.EDIT_OFFICE)
@require_http_methods(["GET", "POST"])
def office_edit(request: HttpRequest) -> HttpResponse:
    office = request.office
    form = OfficeForm.for_office(office, request.POST or None)
    if request.method == "POST" and form.is_valid():
        was_set_up = office.is_set_up
        services.office_update(
            office=office, details=form.details(), actor=request.user, request=request
        )
        if was_set_up:
            messages.success(request, "Office details saved.")
        else:
            messages.success(
                request,
                "Office setup is complete. You can now invite your practitioners and staff.",
            )
            return redirect("offices:team")
        return redirect("offices:detail")
    return render(
        request,
        "offices/edit.html",
        {"form": form, "tab": "details"},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.VIEW_OFFICE)
def team(request: HttpRequest) -> HttpResponse:
    from invitations.selectors import office_pending_invitations

    office = request.office
    form = TeamSearchForm(request.GET)
    valid = form.is_valid()
    search = form.cleaned_data["q"] if valid else ""
    page = page_number(request.GET.get("page")) if valid else 1
    can_manage = Perm.MANAGE_TEAM in request.office_perms
    # One query for both columns' members, one for both columns' pending invitations.
    columns = office_team(office, search=search, page=page)
    pending = office_pending_invitations(office, search=search, page=page) if can_manage else {}
    pages = page_count([s.total for s in [*columns.values(), *pending.values()]], TEAM_PAGE_SIZE)
    if page > pages:
        # Past the end (a stale link, or the last person of the last page was just removed):
        # the last page, at the address that says so.
        return redirect(team_url(search=search, page=pages))
    # Every row links somewhere: reverse each URL once, not once per row (bench/).
    tz = ZoneInfo(office.time_zone)
    remove_url = reverse_for_ids("offices:remove")
    # The row's actions bring the admin back to this search and page (team_return_url).
    here = team_query(search=search, page=page)
    for column in columns.values():
        for membership in column.rows:
            membership.remove_url = remove_url(membership.pk) + here
            membership.display_name = membership.user.get_full_name() or membership.user.email
            membership.joined_label = _day(membership.joined_at, tz)
    resend_url = reverse_for_ids("invitations:resend")
    revoke_url = reverse_for_ids("invitations:revoke")
    for part in pending.values():
        for invitation in part.rows:
            invitation.resend_url = resend_url(invitation.pk) + here
            invitation.revoke_url = revoke_url(invitation.pk) + here
            invitation.sent_label = _day_and_time(invitation.sent_at or invitation.created_at, tz)
            invitation.expires_label = _month_day(invitation.expires_at, tz)
    no_invitations = Slice()
    context = {
        "tab": "team",
        "form": form,
        "search": search,
        # What was typed, for the search box to show again when it was refused.
        "typed": search if valid else single_line(request.GET.get("q", "")),
        "columns": [
            {
                "role": role,
                "title": title,
                "members": columns[role].rows,
                "total": columns[role].total,
                "first": columns[role].first,
                "last": columns[role].last,
                "invite_label": invite_label,
                "invite_url": _invite_url(role),
                "pending": pending.get(role, no_invitations),
            }
            for role, title, invite_label in (
                (Role.PRACTITIONER, "Practitioners", "Invite Practitioner"),
                (Role.STAFF, "Staff", "Invite Staff"),
            )
        ],
        "can_manage": can_manage,
        "page": page,
        "page_size": TEAM_PAGE_SIZE,
        # Offices that fit on one page look as they always did: no pager.
        "pager": {
            "count": pages,
            "previous_url": team_url(search=search, page=page - 1) if page > 1 else "",
            "next_url": team_url(search=search, page=page + 1) if page < pages else "",
        }
        if pages > 1
        else None,
    }
    return render(request, "offices/team.html", context, status=200 if valid else 400)


# The tab shows up to three dates per row; the `date` template filter costs ~0.1 ms each, which
# on a 600-row tab was a third of the page (bench/). Same formats, in the office's time zone.
def _day(moment, tz) -> str:  # "Nov 3, 2026"
    local = timezone.localtime(moment, tz)
    return f"{local:%b} {local.day}, {local.year}"


def _month_day(moment, tz) -> str:  # "Nov 3"
    local = timezone.localtime(moment, tz)
    return f"{local:%b} {local.day}"


def _day_and_time(moment, tz) -> str:  # "Nov 3, 2026, 4:05 PM"
    local = timezone.localtime(moment, tz)
    hour = local.hour % 12 or 12
    return f"{_day(local, tz)}, {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def _office_membership(request: HttpRequest, membership_id: int) -> Membership:
    # Another office's membership id answers 404, like one that does not exist.
    return get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, office=request.office
    )


@office_view(Perm.MANAGE_TEAM)
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _office_membership(request, membership_id)
    if membership.user_id == request.user.pk:
        return redirect("offices:leave")
    # The tab's search and page ride along in the query string (the form posts to this same
    # address), so that the admin lands back where they were.
    back = team_return_url(request.GET)
    if request.method == "POST":
        try:
            services.membership_remove(
                membership=membership, removed_by=request.user, request=request
            )
        except services.MembershipError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{membership.user} was removed from {request.office}.")
        return redirect(back)
    if not membership.is_active:
        messages.error(request, f"{membership.user} was already removed from this office.")
        return redirect(back)
    return render(
        request,
        "offices/remove_confirm.html",
        {"member": membership, "tab": "team", "back": back},
    )


@office_view(Perm.VIEW_OFFICE)
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    if request.method == "POST":
        try:
            services.membership_remove(
                membership=membership, removed_by=request.user, request=request
            )
        except services.MembershipError as error:
            messages.error(request, str(error))
            return redirect("offices:team")
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"You left {membership.office}.")
        return redirect("home")
    return render(request, "offices/leave_confirm.html", {"tab": "team"})


@office_view(Perm.MANAGE_TEAM)
def activity(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.filter(office=request.office)
    actions = list(events.order_by().values_list("action", flat=True).distinct())
    people = [
        (m.user_id, f"{m.user} ({m.user.email})")
        for m in Membership.objects.filter(office=request.office)
        .select_related("user")
        .order_by("user__email")
        .distinct()
    ]
    form = ActivityFilterForm(request.GET, actions=sorted(actions), people=people)
    if form.is_valid():
        if form.cleaned_data["action"]:
            events = events.filter(action=form.cleaned_data["action"])
        if form.cleaned_data["person"]:
            events = events.filter(actor_id=form.cleaned_data["person"])
    page = Paginator(events.select_related("actor"), ACTIVITY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "offices/activity.html",
        {"tab": "activity", "page": page, "form": form, "query": query.urlencode()},
    )


@office_view(Perm.VIEW_OFFICE)
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("office", "")
    chosen = next((m for m in request.clinic_memberships if str(m.office_id) == raw), None)
    if chosen is None:
        raise Http404("No such office.")
    request.session[SESSION_KEY] = chosen.office_id
    messages.info(request, f"You are now working in {chosen.office}.")
    return redirect("offices:detail")
