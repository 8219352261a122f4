from django.urls import path

from offices import views

app_name = "offices"
urlpatterns = [
    path("", views.office_detail, name="detail"),
    path("edit/", views.office_edit, name="edit"),
    path("team/", views.team, name="team"),
    path("team/<int:membership_id>/remove/", views.member_remove, name="remove"),
    path("leave/", views.leave, name="leave"),
    path("activity/", views.activity, name="activity"),
    path("switch/", views.switch, name="switch"),
]
