"""Forms of the Patients area: search, patient details, treatment plans."""

from __future__ import annotations

import re
from datetime import date, datetime

from django import forms
from django.utils import timezone

from outsmart.text import CONTROL, normalise_email, single_line, validate_email_characters

PHONE_CHARS = re.compile(r"^\+?[0-9 ().-]+$")


def parse_date(value: str) -> date | None:
    """A date typed into the search box: 1980-03-14, 14/03/1980 or 14.03.1980."""
    value = value.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Search by name or date of birth", max_length=100, required=False)

    def clean_q(self) -> str:
        return single_line(self.cleaned_data["q"])


class PatientForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    date_of_birth = forms.DateField(
        label="Date of birth",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Needed before a medical-records access code can be issued.",
    )
    email = forms.EmailField(
        label="Email", max_length=254, required=False, validators=[validate_email_characters]
    )
    mobile_phone = forms.CharField(
        label="Mobile phone",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text="With the country code, e.g. +1 416 555 0134.",
    )

    def _name(self, field: str, what: str) -> str:
        value = single_line(self.cleaned_data[field])
        if not value:
            raise forms.ValidationError(f"Enter the patient's {what}.")
        return value

    def clean_first_name(self) -> str:
        return self._name("first_name", "first name")

    def clean_last_name(self) -> str:
        return self._name("last_name", "last name")

    def clean_date_of_birth(self) -> date | None:
        born = self.cleaned_data["date_of_birth"]
        if born is None:
            return None
        if born > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if born.year < 1900:
            raise forms.ValidationError("Enter a date of birth after 1900.")
        return born

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"]) if self.cleaned_data["email"] else ""

    def clean_mobile_phone(self) -> str:
        phone = self.cleaned_data["mobile_phone"].strip()
        if not phone:
            return ""
        digits = re.sub(r"\D", "", phone)
        if not PHONE_CHARS.match(phone) or not 7 <= len(digits) <= 15:
            raise forms.ValidationError("Enter a mobile number, e.g. +1 416 555 0134.")
        # Stored in one form (E.164 when the country code is given), so SMS can use it.
        return ("+" if phone.startswith("+") else "") + digits


class TreatmentPlanForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    plan_date = forms.DateField(
        label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    body = forms.CharField(
        label="Plan",
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Plain text. Leave an empty line between paragraphs.",
    )

    def clean_title(self) -> str:
        title = single_line(self.cleaned_data["title"])
        if not title:
            raise forms.ValidationError("Enter a title.")
        return title

    def clean_body(self) -> str:
        # Kept as typed (indentation, lists), minus control characters and trailing spaces.
        lines = [CONTROL.sub("", line).rstrip() for line in self.cleaned_data["body"].splitlines()]
        body = "\n".join(lines).strip("\n")
        if not body:
            raise forms.ValidationError("Write the plan.")
        return body

    def clean_plan_date(self) -> date:
        when = self.cleaned_data["plan_date"]
        if not 1900 <= when.year <= 2100:
            raise forms.ValidationError("Enter a date between 1900 and 2100.")
        return when
