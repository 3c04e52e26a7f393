from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    """Users, e-mail and wallet sign-in, KYC and reputation."""

    name = "accounts"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from accounts import checks, signals  # noqa: F401  (deploy checks, audit receivers)
        from accounts.api import schema  # noqa: F401  (registers the JWT scheme)

        # Pillow's own guard (a warning at this size, an error at twice it), for any image
        # opened anywhere in the process; uploads are refused earlier, from their header.
        Image.MAX_IMAGE_PIXELS = settings.UPLOAD_IMAGE_MAX_PIXELS


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the staff door of ``accounts.admin_site`` (lockout, 2FA)."""

    default = False  # named explicitly in INSTALLED_APPS; AccountsConfig is this module's default
    default_site = "accounts.admin_site.StaffAdminSite"
