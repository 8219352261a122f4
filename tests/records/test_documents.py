"""Documents: upload (type from the content, nothing stored on bad input), private storage, and
download only through the view that checks the office."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from outsmart.audit.models import AuditEvent
from outsmart.devtools.demo_documents import seed_documents, tiny_pdf, tiny_png
from records.models import Document, Patient
from records.selectors.documents import patient_documents
from records.services.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    check_upload,
    document_upload,
)

pytestmark = pytest.mark.django_db

PDF = tiny_pdf("Blood test results", ["Haemoglobin 138 g/L"])
PNG = tiny_png(32, 24)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
# 2026-03-14 at noon in Toronto, the office's time zone.
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=ZoneInfo("America/Toronto"))
TODAY = date(2026, 3, 14)


@pytest.fixture(autouse=True)
def storage_dir(settings, tmp_path):
    """Private storage in a fresh directory per test (STORAGES is read when the storage is
    created; changing the setting resets Django's storages)."""
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location, "base_url": None},
        },
    }
    return location


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def stored_files(location) -> list:
    return [path for path in location.rglob("*") if path.is_file()] if location.exists() else []


@pytest.fixture
def lakeside_patient(office):
    return Patient.objects.create(
        office=office, first_name="Olivia", last_name="Brown", date_of_birth=date(1984, 5, 2)
    )


@pytest.fixture
def hilltop_patient(other_office):
    return Patient.objects.create(
        office=other_office, first_name="Hugo", last_name="Hill", date_of_birth=date(1970, 1, 9)
    )


def upload(patient, actor, *, name="blood-test.pdf", content=PDF, title="Blood test results"):
    return document_upload(
        office=patient.office,
        patient=patient,
        upload=SimpleUploadedFile(name, content, content_type="application/pdf"),
        title=title,
        document_date=TODAY - timedelta(days=2),
        actor=actor,
    )


@pytest.fixture
def document(lakeside_patient, practitioner):
    return upload(lakeside_patient, practitioner)


# --- the service ------------------------------------------------------------------------------
def test_uploaded_pdf_is_stored_privately_under_a_random_name_and_audited(
    lakeside_patient, practitioner, storage_dir
):
    document = upload(lakeside_patient, practitioner)

    assert document.original_name == "blood-test.pdf"
    assert document.content_type == "application/pdf"
    assert document.size == len(PDF)
    assert document.uploaded_by == practitioner
    (path,) = stored_files(storage_dir)
    assert path.read_bytes() == PDF
    assert path.parent == storage_dir / "documents" / str(lakeside_patient.office_id)
    assert "blood" not in path.name and len(path.name) == 32
    event = AuditEvent.objects.get(action="document.uploaded")
    assert event.actor == practitioner and event.patient == lakeside_patient
    assert event.detail == {"content_type": "application/pdf", "size": len(PDF)}


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("wound.png", PNG, "image/png"), ("x-ray.JPG", JPEG, "image/jpeg")],
)
def test_type_comes_from_the_content_not_the_browsers_claim(
    lakeside_patient, staff, name, content, content_type
):
    # The browser claimed application/pdf for both (see `upload`).
    document = upload(lakeside_patient, staff, name=name, content=content)
    assert document.content_type == content_type


def test_a_long_file_name_is_shortened_keeping_its_extension(lakeside_patient, staff):
    document = upload(lakeside_patient, staff, name="scan " * 60 + ".pdf")
    assert len(document.original_name) <= 200
    assert document.original_name.startswith("scan scan") and document.original_name.endswith(
        ".pdf"
    )


BAD_UPLOADS = {
    "claims to be a PDF but is an HTML page": (
        SimpleUploadedFile("report.pdf", b"<html><script>alert(1)</script></html>"),
        "named like a PDF but its content is not a PDF",
    ),
    "claims to be a PDF but is a program": (
        SimpleUploadedFile("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100),
        "named like a PDF",
    ),
    "an SVG image (it can hold scripts)": (
        SimpleUploadedFile("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        "is not a PDF or an image",
    ),
    "a PNG named like a PDF": (
        SimpleUploadedFile("scan.pdf", PNG),
        "is a PNG image, but its name does not end in .png",
    ),
    "a PDF without an extension": (SimpleUploadedFile("scan", PDF), "does not end in .pdf"),
    "an empty file": (SimpleUploadedFile("empty.pdf", b""), "The file is empty"),
    "a file over 10 MB": (
        SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * MAX_DOCUMENT_BYTES),
        "larger than 10 MB",
    ),
    "a path in the file name": (
        File(io.BytesIO(PDF), name="../../etc/passwd.pdf"),
        "must not contain a folder path",
    ),
    "a Windows path in the file name": (
        SimpleUploadedFile("..\\..\\boot.pdf", PDF),
        "must not contain a folder path",
    ),
    "a NUL character in the file name": (
        SimpleUploadedFile("a\x00b.pdf", PDF),
        "control characters",
    ),
    "a right-to-left override in the file name": (
        SimpleUploadedFile("scan\u202efdp.exe.pdf", PDF),
        "control characters",
    ),
    "a name that is only dots": (File(io.BytesIO(PDF), name=".."), "has no name"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_file_is_refused_with_a_clear_message_and_nothing_is_stored(
    case, lakeside_patient, practitioner, storage_dir
):
    bad_file, message = BAD_UPLOADS[case]
    bad_file.seek(0)
    with pytest.raises(DocumentError, match=message):
        document_upload(
            office=lakeside_patient.office,
            patient=lakeside_patient,
            upload=bad_file,
            title="Scan",
            document_date=TODAY,
            actor=practitioner,
        )
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []
    assert not AuditEvent.objects.filter(action="document.uploaded").exists()


@pytest.mark.parametrize(
    ("title", "document_date", "message"),
    [
        ("", TODAY, "Enter a title"),
        ("   ", TODAY, "Enter a title"),
        ("Results\nand notes", TODAY, "single line"),
        ("x" * 201, TODAY, "at most 200 characters"),
        ("Results", TODAY + timedelta(days=2), "cannot be in the future"),
        ("Results", date(1899, 12, 31), "after 1900"),
        ("Results", None, "Enter the document's date"),
    ],
)
def test_bad_title_or_date_is_refused_and_nothing_is_stored(
    title, document_date, message, lakeside_patient, practitioner, storage_dir
):
    with pytest.raises(DocumentError, match=message):
        document_upload(
            office=lakeside_patient.office,
            patient=lakeside_patient,
            upload=SimpleUploadedFile("scan.pdf", PDF),
            title=title,
            document_date=document_date,
            actor=practitioner,
        )
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []


def test_tomorrow_is_accepted_for_a_document_dated_in_another_time_zone(
    lakeside_patient, practitioner
):
    document = document_upload(
        office=lakeside_patient.office,
        patient=lakeside_patient,
        upload=SimpleUploadedFile("scan.pdf", PDF),
        title=" Letter from Sydney ",
        document_date=TODAY + timedelta(days=1),
        actor=practitioner,
    )
    assert document.document_date == TODAY + timedelta(days=1)
    assert document.title == "Letter from Sydney"


def test_another_offices_patient_is_refused(hilltop_patient, office, practitioner, storage_dir):
    with pytest.raises(DocumentError, match="not a patient of your office"):
        document_upload(
            office=office,
            patient=hilltop_patient,
            upload=SimpleUploadedFile("scan.pdf", PDF),
            title="Scan",
            document_date=TODAY,
            actor=practitioner,
        )
    assert stored_files(storage_dir) == []


def test_the_file_is_removed_again_when_the_database_work_fails(
    lakeside_patient, practitioner, storage_dir
):
    with (
        mock.patch(
            "records.services.documents.audit_record", side_effect=RuntimeError("db went away")
        ),
        pytest.raises(RuntimeError, match="db went away"),
    ):
        upload(lakeside_patient, practitioner)
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []


def test_upload_inside_another_transaction_fails_loudly_and_leaves_no_file(
    lakeside_patient, practitioner, storage_dir
):
    # A later rollback of an outer transaction could not take the file back with it.
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        upload(lakeside_patient, practitioner)
    assert stored_files(storage_dir) == []


def test_check_upload_leaves_the_file_at_its_start(lakeside_patient):
    pdf = SimpleUploadedFile("scan.pdf", PDF)
    check_upload(pdf)
    assert pdf.read() == PDF


def test_patient_documents_are_newest_first_in_one_query(
    lakeside_patient, practitioner, staff, django_assert_num_queries
):
    older = upload(lakeside_patient, practitioner, title="Older")
    newer = document_upload(
        office=lakeside_patient.office,
        patient=lakeside_patient,
        upload=SimpleUploadedFile("new.png", PNG),
        title="Newer",
        document_date=TODAY,
        actor=staff,
    )
    with django_assert_num_queries(1):
        documents = patient_documents(lakeside_patient)
        assert [d.uploaded_by.email for d in documents] == [staff.email, practitioner.email]
    assert documents == [newer, older]


# --- the upload page --------------------------------------------------------------------------
def upload_url(patient) -> str:
    return reverse("records:document_upload", args=[patient.pk])


def post_upload(client, patient, file, *, title="Blood test results", document_date=None):
    return client.post(
        upload_url(patient),
        {
            "file": file,
            "title": title,
            "document_date": (document_date or TODAY - timedelta(days=1)).isoformat(),
        },
    )


def test_upload_page_shows_the_form_for_the_patient(
    client, staff, lakeside_patient, verified_login
):
    verified_login(staff)
    response = client.get(upload_url(lakeside_patient))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Upload a document" in body and "Olivia Brown" in body
    assert 'enctype="multipart/form-data"' in body
    assert "up to 10 MB" in body
    assert response["Cache-Control"] == "no-store"


def test_staff_uploads_a_pdf_and_it_is_listed_for_download(
    client, staff, lakeside_patient, verified_login, storage_dir
):
    verified_login(staff)
    response = post_upload(client, lakeside_patient, SimpleUploadedFile("results.pdf", PDF))
    assert response.status_code == 302
    document = Document.objects.get()
    assert (document.patient, document.office) == (lakeside_patient, lakeside_patient.office)
    assert document.title == "Blood test results" and document.original_name == "results.pdf"
    assert len(stored_files(storage_dir)) == 1
    assert response.url == reverse("records:patient", args=[lakeside_patient.pk])
    page = client.get(response.url).content.decode()
    assert "“Blood test results” was added to Olivia Brown’s documents." in page
    assert reverse("records:document_download", args=[document.pk]) in page


def multipart_body(filename: str, content: bytes, boundary: str = "XyZzY") -> bytes:
    """A request body as a crafted client can send it: the test client (like a browser) would
    send only the file's last name part."""
    parts = [
        (b'name="title"', b"Scan"),
        (b'name="document_date"', TODAY.isoformat().encode()),
        (b'name="file"; filename="' + filename.encode() + b'"', content),
    ]
    body = b""
    for disposition, value in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        body += b"Content-Disposition: form-data; " + disposition + b"\r\n"
        if b"filename" in disposition:
            body += b"Content-Type: application/pdf\r\n"
        body += b"\r\n" + value + b"\r\n"
    return body + b"--" + boundary.encode() + b"--\r\n"


VIEW_BAD_UPLOADS = {
    "claims to be a PDF but is not": (
        SimpleUploadedFile("report.pdf", b"<html>hi</html>", content_type="application/pdf"),
        "named like a PDF but its content is not a PDF",
    ),
    "an empty file": (SimpleUploadedFile("empty.pdf", b""), "The file is empty"),
    "a file over 10 MB": (
        SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * MAX_DOCUMENT_BYTES),
        # Refused while it arrives: the upload handler stops keeping it past 10 MB.
        "The file is larger than 10 MB. Upload a smaller file",
    ),
    "an executable": (SimpleUploadedFile("setup.exe", b"MZ\x90\x00"), "is not a PDF or an image"),
    "no file at all": (None, "Choose a file to upload."),
}


@pytest.mark.parametrize("case", VIEW_BAD_UPLOADS, ids=list(VIEW_BAD_UPLOADS))
def test_upload_page_refuses_a_bad_file_with_a_message_and_stores_nothing(
    case, client, practitioner, lakeside_patient, verified_login, storage_dir
):
    bad_file, message = VIEW_BAD_UPLOADS[case]
    verified_login(practitioner)
    data = {"title": "Scan", "document_date": TODAY.isoformat()}
    if bad_file is not None:
        data["file"] = bad_file
    response = client.post(upload_url(lakeside_patient), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []


def test_many_files_in_one_request_count_together_against_the_limit(
    client, practitioner, lakeside_patient, verified_login, storage_dir
):
    six_mb = b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024)
    verified_login(practitioner)
    response = client.post(
        upload_url(lakeside_patient),
        {
            "file": [SimpleUploadedFile("a.pdf", six_mb), SimpleUploadedFile("b.pdf", six_mb)],
            "title": "Scan",
            "document_date": TODAY.isoformat(),
        },
    )
    assert response.status_code == 400
    assert "The file is larger than 10 MB." in response.content.decode()
    assert stored_files(storage_dir) == []


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.pdf", "..\\..\\boot.pdf", "a\x00b.pdf", "tab\there.pdf", "../.."],
)
def test_upload_page_refuses_a_path_or_control_characters_in_the_sent_file_name(
    filename, client, practitioner, lakeside_patient, verified_login, storage_dir
):
    verified_login(practitioner)
    response = client.post(
        upload_url(lakeside_patient),
        data=multipart_body(filename, PDF),
        content_type="multipart/form-data; boundary=XyZzY",
    )
    assert response.status_code == 400
    assert "must not contain a folder path or control characters" in response.content.decode()
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []


def test_a_crafted_body_with_a_plain_name_is_accepted(
    client, practitioner, lakeside_patient, verified_login
):
    # The name check must not refuse what a browser sends (including HTML entities in names).
    verified_login(practitioner)
    response = client.post(
        upload_url(lakeside_patient),
        data=multipart_body("Lab &amp; X-ray (March).pdf", PDF),
        content_type="multipart/form-data; boundary=XyZzY",
    )
    assert response.status_code == 302
    assert Document.objects.get().original_name == "Lab & X-ray (March).pdf"


def test_a_macos_screenshot_name_with_a_narrow_no_break_space_is_accepted(
    client, practitioner, lakeside_patient, verified_login
):
    verified_login(practitioner)
    response = client.post(
        upload_url(lakeside_patient),
        data=multipart_body("Screenshot 2026-03-01 at 10.00.00\u202fAM.png", PNG),
        content_type="multipart/form-data; boundary=XyZzY",
    )
    assert response.status_code == 302
    assert Document.objects.get().content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "document_date": TODAY.isoformat()}, "This field is required."),
        ({"title": "Scan", "document_date": "2026-02-30"}, "Enter a date"),
        ({"title": "Scan", "document_date": "2026-03-16"}, "cannot be in the future"),
        ({"title": "Scan", "document_date": ""}, "This field is required."),
        ({"title": "x" * 201, "document_date": TODAY.isoformat()}, "at most 200 characters"),
    ],
)
def test_upload_page_refuses_a_bad_title_or_date(
    data, message, client, practitioner, lakeside_patient, verified_login, storage_dir
):
    verified_login(practitioner)
    response = client.post(
        upload_url(lakeside_patient), {**data, "file": SimpleUploadedFile("scan.pdf", PDF)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists()
    assert stored_files(storage_dir) == []


def test_upload_to_another_offices_patient_is_not_found(
    client, outsider, lakeside_patient, verified_login, storage_dir
):
    verified_login(outsider)
    assert client.get(upload_url(lakeside_patient)).status_code == 404
    response = post_upload(client, lakeside_patient, SimpleUploadedFile("scan.pdf", PDF))
    assert response.status_code == 404
    assert stored_files(storage_dir) == []


def test_upload_still_checks_the_csrf_token(practitioner, lakeside_patient, verified_login):
    # The view reads the body with its own upload handler, so it checks CSRF itself.
    csrf_client = verified_login(practitioner, client=Client(enforce_csrf_checks=True))
    response = post_upload(csrf_client, lakeside_patient, SimpleUploadedFile("scan.pdf", PDF))
    assert response.status_code == 403
    assert not Document.objects.exists()


@pytest.mark.parametrize("persona", ["removed_member", "patient"])
def test_people_without_an_office_cannot_upload(
    persona, request, client, lakeside_patient, verified_login, storage_dir
):
    verified_login(request.getfixturevalue(persona))
    assert client.get(upload_url(lakeside_patient)).status_code == 403
    response = post_upload(client, lakeside_patient, SimpleUploadedFile("scan.pdf", PDF))
    assert response.status_code == 403
    assert stored_files(storage_dir) == []


# --- download ---------------------------------------------------------------------------------
def download_url(document) -> str:
    return reverse("records:document_download", args=[document.pk])


def test_download_is_an_attachment_that_is_never_sniffed_or_cached(
    client, staff, document, verified_login
):
    verified_login(staff)
    response = client.get(download_url(document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="blood-test.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Length"] == str(len(PDF))


def test_download_of_a_non_ascii_name_is_encoded(client, staff, lakeside_patient, verified_login):
    document = upload(lakeside_patient, staff, name="Résultats d’analyse.pdf")
    verified_login(staff)
    response = client.get(download_url(document))
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''R%C3%A9sultats%20d%E2%80%99analyse.pdf"
    )
    assert b"".join(response.streaming_content) == PDF


def test_download_is_audited_with_the_patient(client, admin, document, verified_login):
    verified_login(admin)
    b"".join(client.get(download_url(document)).streaming_content)
    event = AuditEvent.objects.get(action="document.downloaded")
    assert event.actor == admin
    assert event.patient == document.patient
    assert event.office == document.office
    assert event.target_id == str(document.pk)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("removed_member", 403), ("patient", 403), ("outsider", 404)],
)
def test_download_is_refused_to_anyone_without_access(
    persona, status, request, client, document, verified_login
):
    verified_login(request.getfixturevalue(persona))
    response = client.get(download_url(document))
    assert response.status_code == status
    assert not response.streaming and PDF not in response.content
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()


def test_anonymous_download_goes_to_the_login_page(client, document):
    response = client.get(download_url(document))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()


def test_unknown_document_is_not_found(client, staff, document, verified_login):
    verified_login(staff)
    assert (
        client.get(reverse("records:document_download", args=[document.pk + 1000])).status_code
        == 404
    )


def test_a_document_whose_file_is_gone_is_not_found_rather_than_an_error(
    client, staff, document, verified_login, storage_dir
):
    for path in stored_files(storage_dir):
        path.unlink()
    verified_login(staff)
    assert client.get(download_url(document)).status_code == 404
    assert not AuditEvent.objects.filter(action="document.downloaded").exists()


def test_download_answers_only_get(client, staff, document, verified_login):
    verified_login(staff)
    assert client.post(download_url(document)).status_code == 405


# --- every persona, as in the permission matrix -----------------------------------------------
PERSONAS = ["admin", "practitioner", "staff", "removed_member", "outsider", "patient", "anonymous"]
EXPECTED = {
    "records:document_upload": [200, 200, 200, 403, 404, 403, 302],
    "records:document_download": [200, 200, 200, 403, 404, 403, 302],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_persona_gets_the_expected_status(name, request, document, verified_login):
    url = (
        upload_url(document.patient)
        if name == "records:document_upload"
        else download_url(document)
    )
    for persona, expected in zip(PERSONAS, EXPECTED[name], strict=True):
        client = Client()
        if persona != "anonymous":
            verified_login(request.getfixturevalue(persona), client=client)
        response = client.get(url)
        assert response.status_code == expected, f"{name} as {persona}"
        if response.streaming:
            b"".join(response.streaming_content)


# --- the patient page's section and the demo --------------------------------------------------
def test_documents_section_lists_download_links_and_the_upload_button_when_allowed(
    document, lakeside_patient
):
    context = {"documents": [document], "patient": lakeside_patient}
    html = render_to_string(
        "records/_patient_documents.html", {**context, "can_upload_documents": True}
    )
    assert download_url(document) in html
    assert "Blood test results" in html and "blood-test.pdf" in html
    assert upload_url(lakeside_patient) in html
    html = render_to_string(
        "records/_patient_documents.html", {**context, "can_upload_documents": False}
    )
    assert upload_url(lakeside_patient) not in html
    empty = render_to_string(
        "records/_patient_documents.html",
        {"documents": [], "patient": lakeside_patient, "can_upload_documents": True},
    )
    assert "No documents yet." in empty


def test_demo_documents_are_real_files_and_seeding_twice_adds_nothing(
    office, admin, lakeside_patient, storage_dir
):
    others = [
        Patient.objects.create(office=office, first_name=f"P{n}", last_name="Demo")
        for n in range(4)
    ]
    patients = [lakeside_patient, *others]
    first = seed_documents(office, patients, admin)
    assert len(first) == 3 + 2 + 1 + 3
    assert seed_documents(office, patients, admin) == []
    assert Document.objects.count() == len(first) == len(stored_files(storage_dir))
    for document in first:
        with document.file.open("rb") as handle:
            checked = check_upload(File(handle, name=document.original_name))
        assert checked.content_type == document.content_type
