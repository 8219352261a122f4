from django.apps import AppConfig


class AccessCodesConfig(AppConfig):
    """Access codes and access links (issue: access codes)."""

    name = "accesscodes"
    verbose_name = "Access codes"

    def ready(self) -> None:
        from accesscodes import checks  # noqa: F401 - registers the deployment checks
