"""Patients and their treatment plans."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from offices.models import Office
from outsmart.audit.services import audit_record
from records.models import Patient, TreatmentPlan, TreatmentPlanVersion


@dataclass(frozen=True)
class PatientDetails:
    first_name: str
    last_name: str
    date_of_birth: date | None
    email: str
    mobile_phone: str


@transaction.atomic
def patient_create(
    *, office: Office, details: PatientDetails, actor, request: HttpRequest | None
) -> Patient:
    patient = Patient.objects.create(office=office, created_by=actor, **asdict(details))
    audit_record(
        action="patient.created",
        actor=actor,
        office=office,
        patient=patient,
        target=patient,
        request=request,
    )
    return patient


@transaction.atomic
def patient_update(
    *, patient: Patient, details: PatientDetails, actor, request: HttpRequest | None
) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    values = asdict(details)
    changed = sorted(f for f, v in values.items() if getattr(patient, f) != v)
    for field, value in values.items():
        setattr(patient, field, value)
    patient.save()
    # Which fields changed, never their values: the activity log is not a copy of the chart.
    audit_record(
        action="patient.updated",
        actor=actor,
        office=patient.office,
        patient=patient,
        target=patient,
        request=request,
        detail={"changed": changed},
    )
    return patient


def patient_viewed(*, patient: Patient, actor, request: HttpRequest) -> None:
    audit_record(
        action="patient.viewed",
        actor=actor,
        office=patient.office,
        patient=patient,
        target=patient,
        request=request,
    )


@dataclass(frozen=True)
class PlanContent:
    title: str
    body: str
    plan_date: date


@transaction.atomic
def treatment_plan_create(
    *, patient: Patient, content: PlanContent, author, request: HttpRequest | None
) -> TreatmentPlan:
    plan = TreatmentPlan.objects.create(
        office=patient.office, patient=patient, author=author, edited_by=author, **asdict(content)
    )
    audit_record(
        action="treatment_plan.created",
        actor=author,
        office=patient.office,
        patient=patient,
        target=plan,
        request=request,
    )
    return plan


@transaction.atomic
def treatment_plan_update(
    *, plan: TreatmentPlan, content: PlanContent, editor, request: HttpRequest | None
) -> TreatmentPlan:
    """Edit a plan; what it said before is kept as a version, with who wrote it and when."""
    plan = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
    if (plan.title, plan.body, plan.plan_date) == (content.title, content.body, content.plan_date):
        return plan
    TreatmentPlanVersion.objects.create(
        plan=plan,
        title=plan.title,
        body=plan.body,
        plan_date=plan.plan_date,
        written_by_id=plan.edited_by_id or plan.author_id,
        written_at=plan.updated_at,
        replaced_at=timezone.now(),
    )
    for field, value in asdict(content).items():
        setattr(plan, field, value)
    plan.edited_by = editor
    plan.save()
    audit_record(
        action="treatment_plan.updated",
        actor=editor,
        office=plan.office,
        patient=plan.patient,
        target=plan,
        request=request,
    )
    return plan
