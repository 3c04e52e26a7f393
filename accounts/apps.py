from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, e-mail and wallet sign-in, KYC and reputation."""

    name = "accounts"
