from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict
from django.urls import reverse

from offices.models import Office, time_zone_choices
from offices.services import OfficeDetails
from outsmart.paging import page_number
from outsmart.text import CONTROL, single_line

PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")


def clean_address(address: str) -> str:
    """One line per line typed, without control characters; empty lines dropped."""
    lines = [single_line(line) for line in address.splitlines()]
    return "\n".join(line for line in lines if line)


class OfficeForm(forms.Form):
    name = forms.CharField(label="Office name", max_length=200)
    address = forms.CharField(
        label="Address", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    phone = forms.CharField(
        label="Phone",
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=time_zone_choices)
    require_two_factor = forms.BooleanField(
        label="Require two-factor authentication for everyone in this office",
        required=False,
        help_text="Strongly recommended: members must sign in with a code from their phone.",
    )

    @classmethod
    def for_office(cls, office: Office, data=None) -> OfficeForm:
        return cls(
            data,
            initial={
                f: getattr(office, f)
                for f in ("name", "address", "phone", "time_zone", "require_two_factor")
            },
        )

    def clean_name(self) -> str:
        name = single_line(self.cleaned_data["name"])
        if not name:
            raise forms.ValidationError("Enter the office's name.")
        return name

    def clean_address(self) -> str:
        return clean_address(self.cleaned_data["address"])

    def clean_phone(self) -> str:
        phone = " ".join(self.cleaned_data["phone"].split())
        if not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 7:
            raise forms.ValidationError("Enter a phone number, e.g. +1 416 555 0134.")
        return phone

    def details(self) -> OfficeDetails:
        return OfficeDetails(**self.cleaned_data)


class ActivityFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False)
    person = forms.TypedChoiceField(label="Person", required=False, coerce=int, empty_value=None)

    def __init__(self, data, *, actions: list[str], people: list[tuple[int, str]]):
        super().__init__(data)
        self.fields["action"].choices = [("", "All actions")] + [(a, a) for a in actions]
        self.fields["person"].choices = [("", "Everyone")] + [(str(i), n) for i, n in people]


SEARCH_MAX_LENGTH = 100
# Line breaks and tabs too: nobody types them into a search box.
SEARCH_CONTROL = re.compile(rf"[\t\n\r]|{CONTROL.pattern}")


class TeamSearchForm(forms.Form):
    """The search box of the Practitioners and Staff tab (a GET form: the query is in the URL)."""

    q = forms.CharField(
        label="Search people",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        error_messages={
            "max_length": f"Search for at most {SEARCH_MAX_LENGTH} characters: a name or an "
            "email address.",
            "null_characters_not_allowed": "The search contains control characters. Type a "
            "name or an email address.",
        },
    )

    def clean_q(self) -> str:
        query = self.cleaned_data["q"]
        if SEARCH_CONTROL.search(query):
            raise forms.ValidationError(
                self.fields["q"].error_messages["null_characters_not_allowed"]
            )
        return " ".join(query.split())


def team_query(*, search: str = "", page: int = 1) -> str:
    """The query string ("?q=...&page=2", or "") that shows `search` results, page `page`."""
    params = {"q": search} if search else {}
    if page > 1:
        params["page"] = page
    return f"?{urlencode(params)}" if params else ""


def team_url(*, search: str = "", page: int = 1) -> str:
    """The Practitioners and Staff tab, showing `search` results, page `page`."""
    return reverse("offices:team") + team_query(search=search, page=page)


def team_return_url(data: QueryDict) -> str:
    """Where the tab's Remove, Resend and Revoke send the admin back to: the search and page
    they were on, which the tab's row links and forms carry in their query string (`q`,
    `page`). Only those two values are read, so this never sends anyone elsewhere."""
    form = TeamSearchForm(data)
    if not form.is_valid():
        return team_url()
    return team_url(search=form.cleaned_data["q"], page=page_number(data.get("page")))
