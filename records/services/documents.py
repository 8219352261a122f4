"""Documents: private files of a patient (PDFs and images), uploaded by the clinic and served
only through a view that checks access.

The file's type is decided by its content (its first bytes), never by its name or by the
content type the browser sent. Storage goes through Django's storage API (`default` storage), so
production can keep the files in object storage; it is never a public URL.
"""

from __future__ import annotations

import logging
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePath

from django.core.files import File
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from offices.models import Office
from outsmart.audit.services import audit_record
from records.models import Document, Patient

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_NAME_LENGTH = 200
MAX_TITLE_LENGTH = 200
EARLIEST_DOCUMENT_DATE = date(1900, 1, 1)


class DocumentError(ValueError):
    """An upload the rules refuse; the message is meant for the person who tried."""


@dataclass(frozen=True)
class FileType:
    label: str
    content_type: str
    extensions: tuple[str, ...]


PDF = FileType("a PDF", "application/pdf", (".pdf",))
PNG = FileType("a PNG image", "image/png", (".png",))
JPEG = FileType("a JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"))
GIF = FileType("a GIF image", "image/gif", (".gif",))
WEBP = FileType("a WebP image", "image/webp", (".webp",))
FILE_TYPES = (PDF, PNG, JPEG, GIF, WEBP)
ACCEPTED_EXTENSIONS = tuple(ext for kind in FILE_TYPES for ext in kind.extensions)
ACCEPTED_TYPES_TEXT = "a PDF or an image (PNG, JPEG, GIF or WebP)"


def _sniff(head: bytes) -> FileType | None:
    """The file type its first bytes prove, or None. SVG and HTML are never accepted: a
    browser would run their scripts."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def is_unsafe_char(char: str) -> bool:
    # Control, format (e.g. the right-to-left override that makes "gpj.exe" read as "exe.jpg"),
    # surrogate and unassigned characters, and line/paragraph separators.
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def clean_file_name(raw_name: str | None) -> str:
    """The upload's original name as shown on screen and given to the download: refused if it
    holds a folder path or control characters, shortened to 200 characters (keeping the
    extension)."""
    name = unicodedata.normalize("NFC", raw_name or "").strip()
    if "/" in name or "\\" in name:
        raise DocumentError(
            "The file name must not contain a folder path. Choose the file itself and try again."
        )
    if any(is_unsafe_char(char) for char in name):
        raise DocumentError(
            "The file name contains control characters. Rename the file and try again."
        )
    if name in ("", ".", ".."):
        raise DocumentError("The file has no name. Rename the file and try again.")
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePath(name).suffix[:20]
        name = name[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
    return name


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    content_type: str
    size: int


def check_upload(upload: File) -> CheckedUpload:
    """What an uploaded file really is: its safe name, the type its content proves and its
    size. Raises DocumentError for an empty or oversized file, a name with a path or control
    characters, content that is not a PDF or an image, or a name that says another type."""
    name = clean_file_name(upload.name)
    size = upload.size or 0
    if size == 0:
        raise DocumentError("The file is empty. Choose the file again; it may not have saved.")
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"The file is larger than 10 MB ({size / 1024 / 1024:.1f} MB). "
            "Upload a smaller file, e.g. a scan at a lower resolution."
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    kind = _sniff(head)
    extension = PurePath(name).suffix.lower()
    if kind is None:
        claimed = next((k for k in FILE_TYPES if extension in k.extensions), None)
        if claimed is not None:
            raise DocumentError(
                f"“{name}” is named like {claimed.label} but its content is not "
                f"{claimed.label}. Only {ACCEPTED_TYPES_TEXT} can be uploaded."
            )
        raise DocumentError(f"“{name}” is not {ACCEPTED_TYPES_TEXT}.")
    if extension not in kind.extensions:
        # The download's name must open with the right program; a mismatch is refused rather
        # than silently renamed.
        raise DocumentError(
            f"“{name}” is {kind.label}, but its name does not end in {kind.extensions[0]}. "
            f"Rename it to end in {kind.extensions[0]} and try again."
        )
    return CheckedUpload(name=name, content_type=kind.content_type, size=size)


def clean_title(title: str) -> str:
    """The title, stripped; refused when empty, longer than 200 characters or not one line."""
    title = (title or "").strip()
    if not title:
        raise DocumentError("Enter a title for the document.")
    if any(is_unsafe_char(char) for char in title):
        raise DocumentError("The title must be a single line of text.")
    if len(title) > MAX_TITLE_LENGTH:
        raise DocumentError(f"The title can be at most {MAX_TITLE_LENGTH} characters long.")
    return title


def clean_document_date(document_date: date | None, *, office: Office) -> date:
    """The document's date: not before 1900, and not in the future by more than a day in the
    office's time zone (a day of slack for a document dated in another time zone)."""
    if document_date is None:
        raise DocumentError("Enter the document's date.")
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(office.time_zone))
    if document_date > today + timedelta(days=1):
        raise DocumentError("The document's date cannot be in the future.")
    if document_date < EARLIEST_DOCUMENT_DATE:
        raise DocumentError("Enter a date after 1900.")
    return document_date


def document_upload(
    *,
    office: Office,
    patient: Patient,
    upload: File,
    title: str,
    document_date: date,
    actor,
    request: HttpRequest | None = None,
) -> Document:
    """Store a PDF or image for a patient of the office, under a random name in private
    storage, and audit it (never the file's content or title).

    Storage is not transactional, so the file is written first and deleted again if the
    database work fails (the commit included). That only holds if this is the outermost
    transaction: the atomic block is durable, so calling this inside another transaction
    fails loudly instead of leaving a file behind after a later rollback.
    """
    if patient.office_id != office.pk:
        raise DocumentError("This patient is not a patient of your office.")
    checked = check_upload(upload)
    title = clean_title(title)
    document_date = clean_document_date(document_date, office=office)
    document = Document(
        office=office,
        patient=patient,
        title=title,
        document_date=document_date,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        uploaded_by=actor,
    )
    # The stored name is random (records.models.document_path); the original is only shown.
    document.file.save(checked.name, upload, save=False)
    try:
        with transaction.atomic(durable=True):
            document.save()
            audit_record(
                action="document.uploaded",
                actor=actor,
                office=office,
                patient=patient,
                target=document,
                request=request,
                detail={"content_type": checked.content_type, "size": checked.size},
            )
    except BaseException:
        document.file.delete(save=False)
        raise
    return document


class DocumentMissing(Exception):
    """The document's row exists but storage no longer has its file."""


def document_open(
    *,
    document: Document,
    actor,
    request: HttpRequest | None = None,
    action: str = "document.downloaded",
) -> File:
    """Open a document's file for download and record that `actor` looked at it (the patient's
    records were viewed; the portal records "portal.document_downloaded"). The caller checks
    access and closes the file (a FileResponse does)."""
    storage = document.file.storage
    try:
        handle = storage.open(document.file.name, "rb")
    except FileNotFoundError as error:
        logger.error("Document %s: file %s is missing from storage", document.pk, document.file)
        raise DocumentMissing(document.pk) from error
    audit_record(
        action=action,
        actor=actor,
        office=document.office,
        patient=document.patient,
        target=document,
        request=request,
    )
    return handle
