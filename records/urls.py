from django.urls import include, path

from records.views import patients

app_name = "records"
urlpatterns = [
    path("patients/", patients.patient_list, name="patients"),
    path("", include("records.schedule_urls")),
    path("", include("records.smartforms_urls")),
    path("", include("records.documents_urls")),
]
