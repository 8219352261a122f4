"""Clinic forms for access codes: how the patient gets the code (issue and reissue), and which
Smart Form to send. They validate and normalise; issuing is the services' job."""

from __future__ import annotations

import re
import secrets

from django import forms
from django.core.exceptions import ValidationError

from accesscodes.models import AccessCode
from outsmart.sms import phone_normalise
from outsmart.text import normalise_email, validate_email

ISSUE_KEY = re.compile(r"[0-9a-f]{32}")
ADDRESS_MAX = 254
STALE_FORM = "This form is out of date. Check the details and submit it again."


def issue_key_new() -> str:
    """The one-time key of an issue form: the same form posted twice issues one code."""
    return secrets.token_hex(16)


class DeliveryForm(forms.Form):
    """How the patient gets the code. Only the address of the chosen channel is checked and
    used; the other stays as it was typed."""

    channel = forms.ChoiceField(
        label="How will the patient get the code?",
        choices=AccessCode.Channel.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how the patient gets the code.",
            "invalid_choice": "Choose email, SMS, phone or printed slip.",
        },
    )
    # Plain text fields, checked in clean(): an SMS needs no valid email, and the reverse.
    email = forms.CharField(
        label="Email address",
        required=False,
        strip=False,
        widget=forms.TextInput(
            attrs={"type": "email", "maxlength": ADDRESS_MAX, "autocomplete": "off"}
        ),
    )
    mobile = forms.CharField(
        label="Mobile number",
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"type": "tel", "maxlength": 32, "autocomplete": "off"}),
        help_text="With the country code, e.g. +1 416 555 0134.",
    )
    issue_key = forms.CharField(required=False, widget=forms.HiddenInput)
    stale = False  # the one-time key was missing or malformed: the page gets a fresh one

    def clean(self):
        data = super().clean()
        if not ISSUE_KEY.fullmatch(data.get("issue_key") or ""):
            # A hidden field: the message goes on top of the form, where it is seen.
            self.stale = True
            self.add_error(None, STALE_FORM)
        channel = data.get("channel")
        data["address"] = ""
        if channel == AccessCode.Channel.EMAIL:
            email = normalise_email(self.data.get("email", "") or "")
            try:
                if len(email) > ADDRESS_MAX:
                    raise ValidationError("too long")
                validate_email(email)
            except ValidationError:
                self.add_error(
                    "email",
                    "Enter a valid email address, like name@example.com."
                    if email
                    else "Enter the email address to send the code to.",
                )
            else:
                data["email"] = data["address"] = email
        elif channel == AccessCode.Channel.SMS:
            typed = self.data.get("mobile", "") or ""
            number = phone_normalise(typed) if len(typed) <= 32 else None
            if number is None:
                self.add_error(
                    "mobile",
                    "Enter a mobile number with its country code, like +1 416 555 0134."
                    if typed.strip()
                    else "Enter the mobile number to text the code to.",
                )
            else:
                data["mobile"] = data["address"] = number
        return data

    def issue_key_for_page(self) -> str:
        """The key to put in the form the page shows: the posted one while it is valid (nothing
        was issued with it yet), a fresh one otherwise."""
        if self.is_bound and not self.stale and ISSUE_KEY.fullmatch(self.data.get("issue_key", "")):
            return self.data["issue_key"]
        return issue_key_new()


def delivery_initial(patient, *, previous: AccessCode | None = None) -> dict:
    """Addresses from the patient's file, or those the previous code was sent to."""
    initial = {"email": patient.email, "mobile": patient.mobile_phone}
    if previous is not None:
        initial["channel"] = previous.channel
        if previous.channel == AccessCode.Channel.EMAIL:
            initial["email"] = previous.address
        elif previous.channel == AccessCode.Channel.SMS:
            initial["mobile"] = previous.address
    return initial


class SmartFormSendForm(DeliveryForm):
    smart_form = forms.ModelChoiceField(
        label="Smart Form",
        queryset=None,
        empty_label="Choose a Smart Form",
        error_messages={
            "required": "Choose the Smart Form to send.",
            "invalid_choice": "Choose one of this office's active Smart Forms.",
        },
    )
    field_order = ["smart_form", "channel", "email", "mobile", "issue_key"]

    def __init__(self, *args, office, **kwargs):
        super().__init__(*args, **kwargs)
        from records.selectors.smartforms import smart_forms_sendable

        self.fields["smart_form"].queryset = smart_forms_sendable(office)
