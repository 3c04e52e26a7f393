from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: backups and verified restores, alert metrics,
    slow-query log, the guarded beat scheduler. The top layer: it may read every app."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ops import metrics, slowlog, tasks  # noqa: F401 (tasks: registered by name)

        metrics.register()
        slowlog.install()
