from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "outsmart.accounts"
    label = "accounts"
    verbose_name = "Accounts"
