from django.urls import path

from records import views

app_name = "records"
urlpatterns = [
    path("schedule/", views.schedule, name="schedule"),
    path("patients/", views.patient_list, name="patients"),
]
