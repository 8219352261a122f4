"""Demo Smart Forms for `make run`: the intake form sent to 12 patients, 7 of whom answered.
Deterministic and idempotent (a patient who already has the intake form is left alone)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from offices.models import Office
from records.models import FormRequest, Patient
from records.services.smartforms import (
    form_request_create,
    form_request_submit,
    smart_forms_install_defaults,
)

SENT = 12

# Answers to the "New patient intake" questions, in their order (None: left blank).
ANSWERS = [
    (
        "Lower back pain for three weeks, worse when sitting at my desk.",
        "Ibuprofen 400 mg when needed.",
        "no",
        None,
        "Never smoked",
        ["None of these"],
        "2024-03-12",
        "6",
    ),
    (
        "Annual check-up and a repeat prescription.",
        "Ramipril 5 mg once a day\nAtorvastatin 20 mg in the evening",
        "yes",
        "Penicillin: a rash all over my arms.",
        "Former smoker",
        ["High blood pressure"],
        "2023-11-02",
        "0",
    ),
    (
        "I get short of breath climbing stairs since the autumn.",
        "Salbutamol inhaler, 2 puffs as needed.\nVitamin D 1000 IU.",
        "yes",
        "Cats and dust mites: sneezing, itchy eyes, sometimes wheezing.",
        "Never smoked",
        ["Asthma or COPD"],
        None,
        "2",
    ),
    (
        "Headaches most afternoons for a month.",
        "None",
        "no",
        None,
        "Yes, occasionally",
        ["Depression or anxiety"],
        "2022-06-20",
        "4",
    ),
    (
        "Follow-up on my blood sugar results.",
        "Metformin 500 mg twice a day.",
        "no",
        None,
        "Yes, daily",
        ["Diabetes", "High blood pressure"],
        "2024-01-15",
        "1",
    ),
    (
        "Pain in my right knee after running, swelling in the evening.",
        "None",
        "yes",
        "Peanuts: swelling of the lips. I carry an EpiPen.",
        "Never smoked",
        ["None of these"],
        "2024-05-30",
        "5",
    ),
    (
        "Feeling tired all the time; my thyroid was checked two years ago.",
        "Levothyroxine 50 mcg every morning.",
        "no",
        None,
        "Former smoker",
        ["Thyroid disease"],
        None,
        "3",
    ),
]


@transaction.atomic
def seed_form_requests(office: Office, patients: list[Patient], author) -> list[FormRequest]:
    """Send the intake form to the first 12 patients and submit answers for 7 of them."""
    intake = smart_forms_install_defaults(office=office)
    already = set(
        FormRequest.objects.filter(office=office, form=intake).values_list("patient_id", flat=True)
    )
    now = timezone.now()
    created = []
    for index, patient in enumerate(patients[:SENT]):
        if patient.pk in already:
            continue
        form_request = form_request_create(
            office=office, patient=patient, form=intake, actor=author, request=None
        )
        sent_at = now - timedelta(days=2 + index * 3, hours=index)
        if index < len(ANSWERS):
            data = {}
            for question, answer in zip(form_request.questions, ANSWERS[index], strict=True):
                if answer is not None:
                    data[f"q_{question['id']}"] = answer
            form_request_submit(form_request=form_request, data=data)
            FormRequest.objects.filter(pk=form_request.pk).update(
                created_at=sent_at, submitted_at=sent_at + timedelta(hours=5 + index)
            )
        else:
            FormRequest.objects.filter(pk=form_request.pk).update(created_at=sent_at)
        created.append(form_request)
    return created
