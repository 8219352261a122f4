"""Deployment checks of the access-code delivery."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

DEVELOPMENT_SMS_BACKENDS = {"outsmart.sms.ConsoleBackend", "outsmart.sms.LocmemBackend"}


@register(Tags.compatibility, deploy=True)
def sms_provider_configured(app_configs, **kwargs):
    """Without SMS_URL in production, codes "sent by SMS" would never leave the server."""
    if settings.SMS_BACKEND in DEVELOPMENT_SMS_BACKENDS:
        return [
            Warning(
                "SMS_URL is not set: access codes sent by SMS are kept in memory, not sent.",
                hint="Set SMS_URL to the SMS provider's endpoint, e.g. "
                "https://USER:TOKEN@sms.example.com/v1/messages.",
                id="accesscodes.W001",
            )
        ]
    return []
