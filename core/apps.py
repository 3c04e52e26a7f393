from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting plumbing: logging, request ids, health, metrics, the API base, error pages.

    The base app: it imports no other app of the project; they register with it.
    """

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the deployment checks)
