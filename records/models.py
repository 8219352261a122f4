"""The clinical data that portal access unlocks: patients, appointments, Smart Forms, treatment
plans and documents. Everything belongs to one office; every query is scoped by it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone


class Patient(models.Model):
    office = models.ForeignKey("offices.Office", on_delete=models.PROTECT, related_name="patients")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # Optional on file, but a medical-records access code needs it (the portal's second check).
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    mobile_phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index("office", Upper("last_name"), Upper("first_name"), name="patient_name"),
            models.Index("office", Upper("first_name"), name="patient_first_name"),
            models.Index(fields=["office", "date_of_birth"], name="patient_dob"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="appointments"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=30)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["office", "starts_at"], name="appointment_office_time"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=480),
                name="appointment_duration_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def ends_at(self):
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class QuestionKind(models.TextChoices):
    SHORT_TEXT = "short_text", "Short text"
    LONG_TEXT = "long_text", "Long text"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    YES_NO = "yes_no", "Yes / no"
    DATE = "date", "Date"
    NUMBER = "number", "Number"


CHOICE_KINDS = {QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE}


class SmartForm(models.Model):
    """A questionnaire template of an office."""

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="smart_forms"
    )
    title = models.CharField(max_length=200)
    instructions = models.TextField(max_length=2000, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    form = models.ForeignKey(SmartForm, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500)
    help_text = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    required = models.BooleanField(default=True)
    choices = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

    def snapshot(self) -> dict:
        return {
            "id": self.pk,
            "text": self.text,
            "help_text": self.help_text,
            "kind": self.kind,
            "required": self.required,
            "choices": list(self.choices),
        }


class FormRequest(models.Model):
    """A Smart Form sent to a patient. The questions are copied when it is sent, so a later
    edit of the template never changes what the patient was asked (or what they answered)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBMITTED = "submitted", "Submitted"

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="form_requests"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="form_requests")
    form = models.ForeignKey(SmartForm, on_delete=models.PROTECT, related_name="requests")
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    questions = models.JSONField(default=list)
    answers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="formrequest_patient")]

    def __str__(self) -> str:
        return f"{self.title} for {self.patient_id}"

    def answered_questions(self) -> list[tuple[dict, object]]:
        return [(q, self.answers.get(str(q["id"]))) for q in self.questions]


class TreatmentPlan(models.Model):
    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="treatment_plans"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="treatment_plans")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=20000)
    plan_date = models.DateField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Who wrote the current text (the author, or whoever edited it last).
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-plan_date", "-id"]
        indexes = [models.Index(fields=["patient", "-plan_date"], name="treatmentplan_patient")]

    def __str__(self) -> str:
        return self.title


class TreatmentPlanVersion(models.Model):
    """A treatment plan as it was before an edit: edits never lose what was written."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="versions")
    title = models.CharField(max_length=200)
    body = models.TextField()
    plan_date = models.DateField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField()
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-replaced_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} (until {self.replaced_at:%Y-%m-%d %H:%M})"


def document_path(instance: Document, filename: str) -> str:
    # Never the uploaded name: a random name in a per-office folder.
    return f"documents/{instance.office_id}/{uuid.uuid4().hex}"


class Document(models.Model):
    """A private file of a patient: served only through a view that checks access."""

    office = models.ForeignKey("offices.Office", on_delete=models.PROTECT, related_name="documents")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    title = models.CharField(max_length=200)
    document_date = models.DateField()
    file = models.FileField(upload_to=document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-document_date", "-id"]
        indexes = [models.Index(fields=["patient", "-document_date"], name="document_patient")]

    def __str__(self) -> str:
        return self.title
