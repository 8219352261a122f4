from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "outsmart.audit"
    label = "audit"
    verbose_name = "Audit log"
