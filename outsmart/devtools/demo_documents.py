"""Demo documents for `seed_demo`: a few small, real PDFs and images on some patients.

The files are made here (a hand-written one-page PDF, a small PNG), so the demo needs no
binary fixtures. Runs inside seed_demo's transaction, so it writes the rows and files directly
rather than through `document_upload` (whose durable transaction must be the outermost).
"""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from offices.models import Office
from records.models import Document, Patient
from records.services.documents import check_upload


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def tiny_pdf(title: str, lines: list[str]) -> bytes:
    """A valid one-page PDF (A4) with a title and a few lines of Helvetica."""
    text = [f"BT /F1 18 Tf 72 770 Td ({_pdf_text(title)}) Tj ET"]
    for number, line in enumerate(lines):
        text.append(f"BT /F1 11 Tf 72 {736 - 18 * number} Td ({_pdf_text(line)}) Tj ET")
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def tiny_png(width: int = 160, height: int = 120) -> bytes:
    """A valid RGB PNG: a soft skin-toned gradient with a darker spot, like a clinical photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = bytearray()
    cx, cy = width * 0.55, height * 0.45
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            shade = 230 - (x + y) // 8
            spot = ((x - cx) ** 2 + (y - cy) ** 2) < (min(width, height) * 0.12) ** 2
            if spot:
                rows += bytes((150, 95, 80))
            else:
                rows += bytes((shade, max(shade - 40, 0), max(shade - 60, 0)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


# (title, file name, days ago, content maker)
DEMO_DOCUMENTS = [
    (
        "Referral letter",
        "referral-letter.pdf",
        40,
        lambda patient: tiny_pdf(
            "Referral letter",
            [
                f"Re: {patient.full_name}",
                "Please assess and advise on ongoing lower back pain.",
                "Thank you, Dr. R. Singh, Harbourfront Medical",
            ],
        ),
    ),
    (
        "Blood test results",
        "blood-test-results.pdf",
        12,
        lambda patient: tiny_pdf(
            "Blood test results",
            [
                f"Patient: {patient.full_name}",
                "Haemoglobin 138 g/L (130-170)",
                "Ferritin 64 ug/L (30-400)",
                "HbA1c 5.4 % (< 6.0)",
            ],
        ),
    ),
    ("Skin lesion photo", "lesion-left-forearm.png", 3, lambda patient: tiny_png()),
]


def seed_documents(office: Office, patients: list[Patient], author) -> list[Document]:
    """Give the first few patients a referral letter, test results or a photo; running it
    again adds nothing."""
    today = timezone.localdate()
    created = []
    for index, patient in enumerate(patients[:4]):
        # Not every patient has every kind of document.
        for title, file_name, days_ago, make in DEMO_DOCUMENTS[: 3 - index % 3]:
            if Document.objects.filter(office=office, patient=patient, title=title).exists():
                continue
            content = ContentFile(make(patient), name=file_name)
            checked = check_upload(content)
            document = Document(
                office=office,
                patient=patient,
                title=title,
                document_date=today - timedelta(days=days_ago + index),
                original_name=checked.name,
                content_type=checked.content_type,
                size=checked.size,
                uploaded_by=author,
            )
            document.file.save(file_name, content, save=False)
            document.save()
            created.append(document)
    return created
