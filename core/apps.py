from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting plumbing: logging, request ids, health, metrics, the API base, error pages.

    The base app: it imports no other app of the project; they register with it.
    """

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
