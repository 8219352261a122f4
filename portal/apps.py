from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The patient portal."""

    name = "portal"
