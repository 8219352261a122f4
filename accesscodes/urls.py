"""Clinic URLs of access codes (namespace "accesscodes", included at the root)."""

from django.urls import path

from accesscodes import views

app_name = "accesscodes"
urlpatterns = [
    path(
        "patients/<int:patient_id>/access-codes/medical-records/",
        views.issue_medical_records,
        name="issue_medical_records",
    ),
    path(
        "patients/<int:patient_id>/smart-forms/send/",
        views.send_smart_form,
        name="send_smart_form",
    ),
    path("access-codes/<int:code_id>/cancel/", views.cancel, name="cancel"),
    path("access-codes/<int:code_id>/reissue/", views.reissue, name="reissue"),
]
