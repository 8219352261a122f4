from django.urls import include, path

from records.views import patients

app_name = "records"
urlpatterns = [
    path("patients/", patients.patient_list, name="patients"),
    path("patients/new/", patients.patient_create, name="patient_create"),
    path("patients/<int:patient_id>/", patients.patient_detail, name="patient"),
    path("patients/<int:patient_id>/edit/", patients.patient_edit, name="patient_edit"),
    path(
        "patients/<int:patient_id>/treatment-plans/new/",
        patients.treatment_plan_create,
        name="treatment_plan_create",
    ),
    path(
        "treatment-plans/<int:plan_id>/edit/",
        patients.treatment_plan_edit,
        name="treatment_plan_edit",
    ),
    path(
        "treatment-plans/<int:plan_id>/history/",
        patients.treatment_plan_history,
        name="treatment_plan_history",
    ),
    path("", include("records.schedule_urls")),
    path("", include("records.smartforms_urls")),
    path("", include("records.documents_urls")),
]
