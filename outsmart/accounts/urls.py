from django.urls import path

from outsmart.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/backup-codes/", views.backup_codes_regenerate, name="backup_codes_regenerate"),
    path("two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
]
