"""`python manage.py backup [--to DIR]`: a consistent dump plus uploads, with a manifest."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the PostgreSQL database (one snapshot: pg_dump plus the row count of every "
        "table) and every uploaded file, with a checksummed manifest. Prints the directory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", type=Path, help="Parent directory (default BACKUP_DIR).")

    def handle(self, *args, to: Path | None = None, **options):
        try:
            made = backup_create(destination=to)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        db = made.manifest["database"]
        files = sum(len(spec["entries"]) for spec in made.manifest["files"].values())
        self.stdout.write(
            f"backup: {made.location} ({db['bytes']} bytes of dump, "
            f"{len(made.manifest['tables'])} tables, {files} files)"
        )
