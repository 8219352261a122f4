"""URL patterns of the documents area, in the "records" namespace (included by records/urls.py)."""

from django.urls import path

from records.views import documents

urlpatterns = [
    path(
        "patients/<int:patient_id>/documents/new/",
        documents.document_upload,
        name="document_upload",
    ),
    path(
        "documents/<int:document_id>/download/",
        documents.document_download,
        name="document_download",
    ),
]
