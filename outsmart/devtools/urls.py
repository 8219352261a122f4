from django.urls import path

from outsmart.devtools import views

app_name = "devtools"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("<str:name>/", views.message_detail, name="message"),
    path("<str:name>/html/", views.message_html, name="message_html"),
]
