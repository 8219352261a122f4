from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "outsmart.emails"
    label = "emails"
    verbose_name = "Outgoing email"
