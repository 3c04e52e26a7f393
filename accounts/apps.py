from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, e-mail and wallet sign-in, KYC and reputation."""

    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the audit receivers)
        from accounts.api import schema  # noqa: F401  (registers the JWT scheme)
