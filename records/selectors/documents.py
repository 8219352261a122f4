"""Reads of the documents area."""

from __future__ import annotations

from records.models import Document, Patient


def patient_documents(patient: Patient) -> list[Document]:
    """A patient's documents, newest first (by the document's date), with who uploaded each:
    one query."""
    return list(
        Document.objects.filter(patient=patient, office_id=patient.office_id)
        .select_related("uploaded_by")
        .order_by("-document_date", "-id")
    )
