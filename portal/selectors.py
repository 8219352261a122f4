"""Portal reads: the Dashboard and the My access list, each in a fixed number of queries
whatever the number of patients, clinics or items (prefetches, never a query in a loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from offices.models import Office
from portal.access import records_grants
from portal.models import PortalAccess
from records.models import Appointment, Document, FormRequest, Patient, TreatmentPlan


@dataclass
class PatientRecord:
    """What one medical-records grant shows: a patient's data at one clinic."""

    grant: PortalAccess
    forms_to_fill: list[FormRequest] = field(default_factory=list)
    forms_submitted: list[FormRequest] = field(default_factory=list)
    treatment_plans: list[TreatmentPlan] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    upcoming: list[Appointment] = field(default_factory=list)
    past: list[Appointment] = field(default_factory=list)

    @property
    def patient(self) -> Patient:
        return self.grant.patient

    @property
    def office(self) -> Office:
        return self.grant.patient.office

    @property
    def time_zone_label(self) -> str:
        return self.office.time_zone.replace("_", " ")

    @property
    def appointment_groups(self) -> list[tuple[str, list[Appointment], str]]:
        return [
            ("Upcoming", self.upcoming, "No upcoming appointments."),
            ("Past", self.past, "No past appointments."),
        ]

    @property
    def label(self) -> str:
        """“Olivia Brown · Riverside Clinic”: whose record, at which clinic."""
        return f"{self.patient.full_name} · {self.office.name}"


@dataclass
class Dashboard:
    records: list[PatientRecord]
    # Smart Forms the account may fill without access to that patient's medical records.
    questionnaires: list[PortalAccess]

    @property
    def is_empty(self) -> bool:
        return not self.records and not self.questionnaires


def _same_office(queryset: QuerySet) -> QuerySet:
    # Belt and braces: a patient's rows always belong to the patient's own office.
    return queryset.filter(office_id=F("patient__office_id"))


def dashboard_for(user, *, now: datetime | None = None) -> Dashboard:
    """Everything the account's active grants show, in 6 queries whatever their number:
    the records grants with patient and clinic, one query each for their questionnaires,
    treatment plans, documents and appointments, and the Smart Form grants."""
    now = now or timezone.now()
    forms = _same_office(FormRequest.objects.all()).defer("questions", "answers", "instructions")
    plans = _same_office(TreatmentPlan.objects.all()).select_related("author")
    documents = _same_office(Document.objects.all())
    appointments = _same_office(Appointment.objects.all()).select_related("practitioner")
    grants = list(
        records_grants(user)
        .select_related("patient__office")
        .prefetch_related(
            Prefetch(
                "patient__form_requests",
                queryset=forms.order_by("-created_at", "-id"),
                to_attr="portal_forms",
            ),
            Prefetch(
                "patient__treatment_plans",
                queryset=plans.order_by("-plan_date", "-id"),
                to_attr="portal_plans",
            ),
            Prefetch(
                "patient__documents",
                queryset=documents.order_by("-document_date", "-id"),
                to_attr="portal_documents",
            ),
            Prefetch(
                "patient__appointments",
                queryset=appointments.order_by("starts_at", "id"),
                to_attr="portal_appointments",
            ),
        )
        .order_by(
            "patient__last_name", "patient__first_name", "patient__office__name", "patient_id"
        )
    )
    records = []
    for grant in grants:
        patient = grant.patient
        record = PatientRecord(
            grant=grant,
            treatment_plans=patient.portal_plans,
            documents=patient.portal_documents,
        )
        for form_request in patient.portal_forms:
            if form_request.status == FormRequest.Status.SUBMITTED:
                record.forms_submitted.append(form_request)
            else:
                record.forms_to_fill.append(form_request)
        for appointment in patient.portal_appointments:
            if appointment.starts_at > now:
                record.upcoming.append(appointment)  # soonest first
            else:
                record.past.insert(0, appointment)  # most recent first
        records.append(record)

    seen_patients = {grant.patient_id for grant in grants}
    questionnaires = [
        grant
        for grant in PortalAccess.objects.active()
        .filter(user=user, kind=PortalAccess.Kind.SMART_FORM)
        .select_related("patient__office", "form_request")
        .defer("form_request__questions", "form_request__answers")
        .order_by("-form_request__created_at", "-id")
        # Forms of a patient whose records the account sees are listed with that record.
        if grant.patient_id not in seen_patients
    ]
    return Dashboard(records=records, questionnaires=questionnaires)


def portal_document(user, document_id: int) -> Document | None:
    """The document, if its patient is under one of the account's active medical-records
    grants (a Smart Form grant never reaches a document); else None. One query."""
    return (
        Document.objects.select_related("office", "patient")
        .filter(
            pk=document_id,
            office_id=F("patient__office_id"),
            patient_id__in=records_grants(user).values("patient_id"),
        )
        .first()
    )


def grants_for(user) -> list[PortalAccess]:
    """Every grant the account ever held, active first (newest first), then revoked ones
    (most recently revoked first), with patient, clinic, form and code. One query."""
    return list(
        PortalAccess.objects.filter(user=user)
        .select_related("patient__office", "form_request", "access_code")
        .defer("form_request__questions", "form_request__answers", "access_code__sealed")
        .order_by(F("revoked_at").desc(nulls_first=True), "-granted_at", "-id")
    )
