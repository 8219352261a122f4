from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Upper

from offices.models import Office
from records.models import Patient, TreatmentPlan
from records.patients_forms import parse_date


def patient_search(office: Office, query: str) -> QuerySet[Patient]:
    """The office's patients matching `query`: a date of birth, or name words that each start a
    first or last name ("ann smi" finds Anna Smith). Prefix matches use the name indexes."""
    patients = Patient.objects.filter(office=office)
    if not query:
        return patients
    born = parse_date(query)
    if born is not None:
        return patients.filter(date_of_birth=born)
    patients = patients.alias(first=Upper("first_name"), last=Upper("last_name"))
    for term in query.upper().split()[:5]:
        patients = patients.filter(Q(first__startswith=term) | Q(last__startswith=term))
    return patients


def patient_treatment_plans(patient: Patient) -> list[TreatmentPlan]:
    return list(
        patient.treatment_plans.select_related("author", "edited_by").order_by("-plan_date", "-id")
    )
