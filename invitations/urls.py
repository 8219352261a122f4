"""The admin's side: mounted under office/invitations/ (namespace "invitations")."""

from django.urls import path

from invitations import views

app_name = "invitations"
urlpatterns = [
    path("new/<str:role>/", views.invitation_create, name="create"),
    path("<int:invitation_id>/resend/", views.invitation_resend, name="resend"),
    path("<int:invitation_id>/revoke/", views.invitation_revoke, name="revoke"),
]
