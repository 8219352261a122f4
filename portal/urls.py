from django.urls import path

from portal.views import dashboard, entry, forms, grants

app_name = "portal"
urlpatterns = [
    path("", entry.PortalLoginView.as_view(), name="login"),
    path("register/", entry.register, name="register"),
    path("access-code/", entry.access_code_add, name="access_code"),
    path("link/", entry.link_continue, name="link_continue"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("documents/<int:document_id>/", dashboard.document_download, name="document"),
    path("forms/<int:form_request_id>/", forms.form_fill, name="form"),
    path("forms/<int:form_request_id>/review/", forms.form_review, name="form_review"),
    path("forms/<int:form_request_id>/submit/", forms.form_submit, name="form_submit"),
    path("access/", grants.my_access, name="my_access"),
    path("access/<int:grant_id>/remove/", grants.access_remove, name="access_remove"),
    path("access/<int:grant_id>/not-me/", grants.access_not_me, name="access_not_me"),
]
