"""URL patterns of the smartforms area, in the "records" namespace (included by records/urls.py)."""

from django.urls import path

from records.views import smartforms

urlpatterns = [
    path("smart-forms/", smartforms.smart_form_list, name="smartforms"),
    path("smart-forms/new/", smartforms.smart_form_create, name="smartform_create"),
    path("smart-forms/<int:form_id>/", smartforms.smart_form_detail, name="smartform_detail"),
    path("smart-forms/<int:form_id>/edit/", smartforms.smart_form_edit, name="smartform_edit"),
    path(
        "patients/<int:patient_id>/form-requests/new/",
        smartforms.form_request_create,
        name="form_request_create",
    ),
    path(
        "form-requests/<int:request_id>/",
        smartforms.form_request_detail,
        name="form_request_detail",
    ),
]
