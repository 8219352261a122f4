"""Demo patients and treatment plans for `make run` (deterministic, idempotent)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from offices.models import Office
from records.models import Patient, TreatmentPlan

FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Lucas",
    "Sophia",
    "Ethan",
    "Ava",
    "Mateo",
    "Chloe",
    "Arjun",
    "Zoe",
    "Mohammed",
    "Leah",
    "Hiro",
    "Isabella",
    "Kwame",
    "Mei",
    "Jacob",
]
LAST = [
    "Brown",
    "Tremblay",
    "Martin",
    "Roy",
    "Singh",
    "Wilson",
    "Nguyen",
    "Gagnon",
    "Patel",
    "MacDonald",
    "Li",
    "Campbell",
    "Côté",
    "Anderson",
    "Khan",
    "O'Neill",
    "Kowalski",
    "Fraser",
]
PLANS = [
    (
        "Lower back pain: physiotherapy",
        "Goals: reduce pain to 2/10 and return to gardening within 6 weeks.\n\n"
        "Weeks 1–2: heat before exercise, gentle McKenzie extensions twice a day, walk 15 "
        "minutes daily.\n\nWeeks 3–6: core stabilisation programme (see handout), increase "
        "walking to 30 minutes. Review in clinic every two weeks.",
    ),
    (
        "Type 2 diabetes: follow-up plan",
        "Continue metformin 500 mg twice daily with meals.\n\nHbA1c in 3 months. Foot check "
        "at each visit. Referral to the diabetes education programme sent.\n\nCall the clinic "
        "if fasting glucose stays above 10 mmol/L for three days.",
    ),
    (
        "Post-operative knee rehabilitation",
        "Ice 20 minutes after exercise. Quadriceps sets and straight-leg raises, 3 × 10, "
        "twice a day.\n\nFull weight bearing as tolerated from week 2. Stationary bike from "
        "week 3.",
    ),
]


def seed_patients(office: Office, author, count: int = 40) -> list[Patient]:
    existing = list(Patient.objects.filter(office=office).order_by("id"))
    if existing:
        return existing
    rng = random.Random(2026)  # noqa: S311 - repeatable demo data, nothing secret
    patients = [
        # The portal demo account's own chart, so the portal has data to unlock later.
        Patient(
            office=office,
            first_name="Olivia",
            last_name="Brown",
            date_of_birth=date(1986, 4, 12),
            email="patient@riverside.example",
            mobile_phone="+14165550199",
            created_by=author,
        )
    ]
    for n in range(count - 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
        patients.append(
            Patient(
                office=office,
                first_name=first,
                last_name=last,
                date_of_birth=born if n % 9 else None,  # a few without a date of birth on file
                email=f"{first}.{last}{n}@example.net".lower().replace("'", "").replace("ô", "o"),
                mobile_phone=f"+1416555{1000 + n:04d}",
                created_by=author,
            )
        )
    patients = Patient.objects.bulk_create(patients)
    today = date.today()
    for index, patient in enumerate(patients[:6]):
        title, body = PLANS[index % len(PLANS)]
        TreatmentPlan.objects.create(
            office=office,
            patient=patient,
            title=title,
            body=body,
            plan_date=today - timedelta(days=7 * index + 3),
            author=author,
            edited_by=author,
        )
    return patients
