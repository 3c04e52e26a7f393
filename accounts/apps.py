from django.apps import AppConfig


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
