"""Documents: upload a PDF or image to a patient, and download it, only through these views."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable

from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from offices.access import office_view
from offices.permissions import Perm
from outsmart.http import private_file_response
from records.documents_forms import DocumentUploadForm
from records.models import Document
from records.services import documents as services
from records.views.patients import office_patient

UNSAFE_NAME = (
    "The file name must not contain a folder path or control characters. "
    "Rename the file and try again."
)
TOO_LARGE = (
    "The file is larger than 10 MB. Upload a smaller file, e.g. a scan at a lower resolution."
)


class _NameCheckingParser(MultiPartParser):
    """Django reduces a sent file name to its last part and drops control characters; this
    notes when it had to, so such an upload is refused rather than stored under a name the
    person never chose. (Browsers send the bare name; only a crafted request has a path.)
    `sanitize_file_name` is the parser's own step for this; the view tests would notice if a
    Django upgrade stopped calling it."""

    def __init__(self, *args, handler: DocumentUploadHandler, **kwargs):
        super().__init__(*args, **kwargs)
        self.handler = handler

    def sanitize_file_name(self, file_name):
        raw = html.unescape(file_name)
        # Not `isprintable()`: that would also refuse e.g. the narrow no-break space in macOS
        # screenshot names, which Django merely drops.
        if "/" in raw or "\\" in raw or any(services.is_unsafe_char(char) for char in raw):
            self.handler.refusal = UNSAFE_NAME
        return super().sanitize_file_name(file_name)


class DocumentUploadHandler(FileUploadHandler):
    """The first upload handler of the upload view: it parses the body with the name check
    above, and stops keeping files once they pass 10 MB together, so an oversized upload
    never fills the disk (the rest of the body is read and dropped, and the form says why)."""

    def __init__(self, request: HttpRequest):
        super().__init__(request)
        self.refusal: str | None = None
        self.received = 0  # bytes of all files of the request: one file is expected
        self._parsing = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if self._parsing:
            return None  # called again by the parser below: let it parse
        self._parsing = True
        parser = _NameCheckingParser(
            META, input_data, self.request.upload_handlers, encoding, handler=self
        )
        return parser.parse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > services.MAX_DOCUMENT_BYTES:
            self.refusal = TOO_LARGE
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers keep the file


def _checks_uploads(view: Callable) -> Callable:
    """Put DocumentUploadHandler in place before the body is read. The CSRF middleware reads
    the body, so the view is exempt from it and protected right after the handler is added
    (Django's documented way to change upload handlers for one view)."""
    protected = csrf_protect(view)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.upload_handler = DocumentUploadHandler(request)
        request.upload_handlers.insert(0, request.upload_handler)
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapped)


@_checks_uploads
@office_view(Perm.UPLOAD_DOCUMENTS)
@require_http_methods(["GET", "POST"])
def document_upload(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = office_patient(request, patient_id)
    if request.method == "POST":
        form = DocumentUploadForm(
            request.POST,
            request.FILES,
            office=request.office,
            refusal=request.upload_handler.refusal,
        )
        if form.is_valid():
            try:
                document = services.document_upload(
                    office=request.office,
                    patient=patient,
                    upload=form.cleaned_data["file"],
                    title=form.cleaned_data["title"],
                    document_date=form.cleaned_data["document_date"],
                    actor=request.user,
                    request=request,
                )
            except services.DocumentError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"“{document.title}” was added to {patient}’s documents.")
                return redirect("records:patient", patient_id=patient.pk)
    else:
        form = DocumentUploadForm(
            office=request.office, initial={"document_date": timezone.localdate()}
        )
    return render(
        request,
        "records/document_upload.html",
        {"form": form, "patient": patient},
        status=400 if form.is_bound else 200,
    )


@office_view(Perm.VIEW_PATIENTS)
@require_GET
def document_download(request: HttpRequest, document_id: int) -> HttpResponse:
    # Another office's document answers 404, exactly like one that does not exist.
    document = get_object_or_404(
        Document.objects.select_related("office", "patient"),
        pk=document_id,
        office=request.office,
    )
    try:
        handle = services.document_open(document=document, actor=request.user, request=request)
    except services.DocumentMissing as error:
        raise Http404("The document's file is missing.") from error
    response = private_file_response(
        handle, filename=document.original_name, content_type=document.content_type
    )
    return response
