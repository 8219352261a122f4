"""The document upload form: validates and normalises with the same rules the service checks,
so each problem shows next to its field."""

from __future__ import annotations

from django import forms

from offices.models import Office
from records.services.documents import (
    ACCEPTED_EXTENSIONS,
    FILE_TYPES,
    DocumentError,
    check_upload,
    clean_document_date,
    clean_title,
)

ACCEPT = ",".join([*ACCEPTED_EXTENSIONS, *(kind.content_type for kind in FILE_TYPES)])


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        allow_empty_file=True,  # an empty file gets the service's message, in clean_file
        error_messages={"required": "Choose a file to upload."},
        help_text="A PDF or an image (PNG, JPEG, GIF or WebP), up to 10 MB.",
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )
    title = forms.CharField(
        label="Title",
        max_length=200,
        help_text="What the document is, e.g. “Blood test results” or “Referral letter”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    document_date = forms.DateField(
        label="Date",
        help_text="The date on the document, e.g. the day of the test or of the letter.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date, e.g. 2026-03-14."},
    )

    def __init__(self, *args, office: Office, refusal: str | None = None, **kwargs):
        """`refusal`: why the upload handler would not accept the file while it was being
        received (too large, or a path or control characters in its name)."""
        super().__init__(*args, **kwargs)
        self.office = office
        self.refusal = refusal
        if refusal:
            # An oversized file was dropped while it arrived: say why, not "choose a file".
            self.fields["file"].error_messages["required"] = refusal

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if self.refusal:
            raise forms.ValidationError(self.refusal)
        try:
            check_upload(upload)
        except DocumentError as error:
            raise forms.ValidationError(str(error)) from error
        return upload

    def clean_title(self) -> str:
        try:
            return clean_title(self.cleaned_data["title"])
        except DocumentError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_document_date(self):
        try:
            return clean_document_date(self.cleaned_data["document_date"], office=self.office)
        except DocumentError as error:
            raise forms.ValidationError(str(error)) from error
