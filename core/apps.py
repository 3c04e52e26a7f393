from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting plumbing: logging, request ids, health, metrics, the API base, pages."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
