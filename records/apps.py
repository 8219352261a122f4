from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """Clinical data that portal access unlocks (issue: records)."""

    name = "records"
