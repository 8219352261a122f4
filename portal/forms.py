"""The portal's forms: Register Here, +Access Code, and the date of birth a records code asks."""

from __future__ import annotations

from datetime import date

from allauth.account.adapter import get_adapter
from django import forms

from accesscodes.words import WORD_COUNT, CodeFormatError, ParsedCode, code_parse
from outsmart.text import normalise_email, single_line, validate_email_characters

CODE_FIELDS = [f"code_{i}" for i in range(1, WORD_COUNT + 1)]


class DateOfBirthField(forms.DateField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Date of birth")
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        kwargs.setdefault(
            "error_messages",
            {
                "required": "Enter the date of birth.",
                "invalid": "Enter the date of birth as a date, for example 1986-04-12.",
            },
        )
        super().__init__(input_formats=["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"], **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value is not None and not (date(1900, 1, 1) <= value <= date.today()):
            raise forms.ValidationError("Enter a real date of birth (not in the future).")
        return value


class AccessCodeFieldsMixin:
    """Four fields, one word each; pasting the whole code into the first one works too (with
    JavaScript it is spread over the four, without it the server reads it from the first)."""

    code_required_message = "Enter the four words of your access code."

    def add_code_fields(self, *, required: bool = True) -> None:
        for i, name in enumerate(CODE_FIELDS, start=1):
            self.fields[name] = forms.CharField(
                label=f"Word {i}",
                max_length=200,
                required=False,
                widget=forms.TextInput(
                    attrs={
                        "autocomplete": "off",
                        "autocapitalize": "none",
                        "spellcheck": "false",
                        "list": "access-code-words",
                        "class": "code-word",
                        "data-code-word": str(i),
                        "enterkeyhint": "next" if i < WORD_COUNT else "done",
                    }
                ),
            )
        self.code_required = required
        self.parsed_code: ParsedCode | None = None

    def clean_code(self, cleaned: dict) -> None:
        typed = [single_line(cleaned.get(name) or "") for name in CODE_FIELDS]
        if not any(typed):
            if self.code_required:
                self.add_error(CODE_FIELDS[0], self.code_required_message)
            return
        try:
            self.parsed_code = code_parse(typed)
        except CodeFormatError as error:
            self.add_error(CODE_FIELDS[0], str(error))
            return
        # Show the words as read (corrected typos included), so the person sees what was used.
        self.data = self.data.copy()
        for name, word in zip(CODE_FIELDS, self.parsed_code.words, strict=True):
            self.data[self.add_prefix(name)] = word

    @property
    def code_bound_fields(self):
        return [self[name] for name in CODE_FIELDS]


class RegisterForm(AccessCodeFieldsMixin, forms.Form):
    """Register Here: every field required; the access code at the bottom."""

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
    date_of_birth = DateOfBirthField(
        help_text="The patient's date of birth, as the clinic has it (for a child's code, "
        "the child's).",
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        validators=[validate_email_characters],
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="You log in with it. We send a message to confirm it.",
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters. Easy for you to remember, hard for others to guess: "
        "a few unrelated words make a strong one.",
    )

    def __init__(self, *args, link_code=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.link_code = link_code  # an AccessCode this browser opened by its link
        self.add_code_fields(required=link_code is None)

    def _name(self, field: str, label: str) -> str:
        value = single_line(self.cleaned_data[field])
        if not value:
            raise forms.ValidationError(f"Enter your {label}.")
        return value

    def clean_first_name(self) -> str:
        return self._name("first_name", "first name")

    def clean_last_name(self) -> str:
        return self._name("last_name", "last name")

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            from outsmart.accounts.models import User

            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                get_adapter().clean_password(password, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        if self.link_code is None:
            self.clean_code(cleaned)
        return cleaned


class AccessCodeForm(AccessCodeFieldsMixin, forms.Form):
    """+Access Code: the four words, and the date of birth once the code turns out to be a
    medical-records code."""

    date_of_birth = DateOfBirthField(required=False)

    def __init__(self, *args, ask_date_of_birth: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_code_fields()
        self.ask_date_of_birth = ask_date_of_birth

    def clean(self):
        cleaned = super().clean()
        self.clean_code(cleaned)
        return cleaned


class DateOfBirthForm(forms.Form):
    date_of_birth = DateOfBirthField(
        help_text="The patient's date of birth, as the clinic has it.",
    )
