from django.conf import settings


def site(request):
    return {"dev_outbox": settings.DEBUG and settings.EMAIL_BACKEND.endswith("OutboxEmailBackend")}
