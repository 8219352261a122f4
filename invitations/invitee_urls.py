"""The invitee's side (namespace "invitee"): the link from the email, and the pending
invitations under the person's account."""

from django.urls import path

from invitations import views

app_name = "invitee"
urlpatterns = [
    # The link from the email (and two older forms of it): remembered, then on without the token.
    path("invitations/<str:token>/", views.landing, name="landing"),
    path("invitations/<str:token>/register/", views.landing, {"step": "register/"}),
    path("invitations/<str:token>/review/", views.landing, {"step": "review/"}),
    path("invitation/", views.opened, name="open"),
    path("invitation/register/", views.register, name="open_register"),
    path("invitation/review/", views.review_request, name="open_review"),
    path("accounts/invitations/", views.mine, name="list"),
    path("accounts/invitations/<int:invitation_id>/", views.detail, name="detail"),
    path("accounts/invitations/<int:invitation_id>/approve/", views.approve, name="approve"),
    path("accounts/invitations/<int:invitation_id>/decline/", views.decline, name="decline"),
]
