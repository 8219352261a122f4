from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from outsmart import views
from portal.views import entry as portal_entry

# The admin requires a verified second factor (django-otp); login goes through allauth.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "OutSmart support"
admin.site.site_title = "OutSmart support"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("invitations.invitee_urls")),
    path("accounts/", include("outsmart.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("office/invitations/", include("invitations.urls")),
    path("office/", include("offices.urls")),
    path("", include("records.urls")),
    path("", include("accesscodes.urls")),
    path("portal/", include("portal.urls")),
    path("a/<str:token>/", portal_entry.link_landing, name="access_link"),
    path("admin/login/", views.admin_login, name="admin_login_redirect"),
    path("admin/", admin.site.urls),
]

handler400 = "outsmart.views.bad_request"
handler500 = "outsmart.views.server_error"
handler429 = "outsmart.views.too_many_requests"  # allauth

if settings.DEBUG:
    urlpatterns.append(path("dev/outbox/", include("outsmart.devtools.urls")))
