from __future__ import annotations

from allauth.account.adapter import get_adapter
from django import forms

from invitations.models import ReviewRequest
from outsmart.text import multi_line, normalise_email, single_line, validate_email_characters


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        validators=[validate_email_characters],
        help_text="The address they use, or will use, for their OutSmart account.",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    name = forms.CharField(
        label="Name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    message = forms.CharField(
        label="Personal message",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Included in the invitation email. At most 1,000 characters.",
    )

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])

    def clean_name(self) -> str:
        return single_line(self.cleaned_data["name"])

    def clean_message(self) -> str:
        return multi_line(self.cleaned_data["message"])


class RegisterForm(forms.Form):
    """The registration form an invitation link opens: the address is fixed to the invited one
    and the security code comes filled in from the link."""

    email = forms.EmailField(
        label="Email address",
        disabled=True,
        required=False,
        help_text="The address you were invited with. You log in with it (upper or lower "
        "case does not matter).",
    )
    security_code = forms.CharField(
        label="Security code",
        max_length=64,
        help_text="Filled in from your invitation link.",
        widget=forms.TextInput(attrs={"readonly": True, "autocomplete": "off"}),
    )
    first_name = forms.CharField(
        label="First name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters. A few unrelated words make a strong, memorable one.",
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, invitation, token: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        self.token = token
        self.fields["email"].initial = invitation.email
        self.fields["security_code"].initial = token
        # The name the clinic typed, as a starting point the person can correct.
        first, _, last = invitation.name.partition(" ")
        self.fields["first_name"].initial = first
        self.fields["last_name"].initial = last

    def clean_security_code(self) -> str:
        code = self.cleaned_data["security_code"].strip()
        if code != self.token:
            raise forms.ValidationError(
                "The security code does not match this invitation. Open the link in your "
                "invitation email again."
            )
        return code

    def _name(self, field: str, label: str) -> str:
        value = single_line(self.cleaned_data[field])
        if not value:
            raise forms.ValidationError(f"Enter your {label}.")
        return value

    def clean_first_name(self) -> str:
        return self._name("first_name", "first name")

    def clean_last_name(self) -> str:
        return self._name("last_name", "last name")

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords are not the same.")
        elif p1:
            from outsmart.accounts.models import User

            # Validated against the person it will belong to (name and email similarity).
            candidate = User(
                email=self.invitation.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                get_adapter().clean_password(p1, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ReviewRequestForm(forms.Form):
    contact_email = forms.EmailField(
        label="Where can OutSmart Support reach you?",
        max_length=254,
        validators=[validate_email_characters],
        help_text="An email address you can read. It can be different from the invited one.",
    )
    note = forms.CharField(
        label="What happened?",
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For example: the address belongs to a shared office mailbox.",
    )

    def clean_contact_email(self) -> str:
        return normalise_email(self.cleaned_data["contact_email"])

    def clean_note(self) -> str:
        return multi_line(self.cleaned_data["note"])


class ReviewResolveForm(forms.ModelForm):
    """The support admin's form: how the review was resolved."""

    new_email = forms.EmailField(
        label="Re-send to this address",
        required=False,
        max_length=254,
        validators=[validate_email_characters],
        help_text="Only for “re-sent to another address”: an address the clinic confirmed.",
    )

    class Meta:
        model = ReviewRequest
        fields = ["resolution", "resolution_note"]

    def clean_new_email(self) -> str:
        return normalise_email(self.cleaned_data["new_email"] or "")

    def clean(self):
        cleaned = super().clean()
        resolution = cleaned.get("resolution")
        if not resolution:
            self.add_error("resolution", "Choose how this review was resolved.")
        elif resolution == ReviewRequest.Resolution.RESENT_TO_OTHER_ADDRESS and not cleaned.get(
            "new_email"
        ):
            self.add_error("new_email", "Enter the address the clinic confirmed.")
        return cleaned
