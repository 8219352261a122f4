from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The development outbox: mail kept as files when no EMAIL_URL is set."""

    name = "outsmart.devtools"
    label = "devtools"
