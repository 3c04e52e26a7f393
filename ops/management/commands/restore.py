"""`python manage.py restore DIR --verify` (scratch database, checked) or `--into NAME`."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ops import backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup`. --verify restores into a scratch "
        "database and checks it (row counts, migrations, uploads, open swaps against their "
        "chain facts), then drops it. --into NAME restores into database NAME (--replace "
        "drops it first) and, with --files, puts the uploads back. DIR defaults to the "
        "newest backup under BACKUP_DIR."
    )

    def add_arguments(self, parser):
        parser.add_argument("location", nargs="?", type=Path)
        parser.add_argument("--verify", action="store_true")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
        parser.add_argument(
            "--chain-facts", action="store_true", help="Also read each open swap's locks on chain."
        )
        parser.add_argument("--into", metavar="NAME", help="Restore into this database.")
        parser.add_argument("--replace", action="store_true", help="Drop NAME first.")
        parser.add_argument("--files", action="store_true", help="Restore the uploads too.")
        # Internal: run by --verify in a child process whose DATABASE_URL is the scratch copy.
        parser.add_argument("--check-restored", action="store_true", help="(internal)")

    def handle(self, *args, location: Path | None, **opts):
        location = location or backup.backup_latest()
        if location is None:
            raise CommandError("no backup given and none found under BACKUP_DIR")
        try:
            if opts["check_restored"]:
                manifest = json.loads((location / backup.MANIFEST).read_text())
                report = backup.check_restored(manifest=manifest, chain_facts=opts["chain_facts"])
                line = json.dumps(report.as_dict(), sort_keys=True)
                self.stdout.write(backup.CHECK_PREFIX + line)
                return
            if not (opts["verify"] or opts["into"]):
                raise CommandError("say --verify, --into NAME, or both")
            if opts["verify"]:
                self._verify(location, keep=opts["keep"], chain_facts=opts["chain_facts"])
            if opts["into"]:
                self._into(location, opts["into"], replace=opts["replace"], files=opts["files"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc

    def _verify(self, location: Path, *, keep: bool, chain_facts: bool) -> None:
        report = backup.restore_verify(location=location, keep=keep, chain_facts=chain_facts)
        for line in report.warnings:
            self.stdout.write(f"warning: {line}")
        for line in report.failures:
            self.stdout.write(f"FAILED: {line}")
        facts = ", ".join(f"{k} {v}" for k, v in sorted(report.facts.items()))
        if not report.ok:
            raise CommandError(f"restore --verify: {len(report.failures)} failures ({facts})")
        self.stdout.write(f"restore --verify: ok ({facts})")

    def _into(self, location: Path, name: str, *, replace: bool, files: bool) -> None:
        manifest = backup.manifest_load(location)
        db = backup._db_settings()
        if name == db["NAME"] and not replace:
            raise CommandError(f"{name} is this deployment's database; add --replace")
        backup.database_create(db, name, replace=replace)
        backup.database_restore(location=location, manifest=manifest, name=name)
        self.stdout.write(f"restore: database {name} restored from {location}")
        if files:
            count = backup.files_restore(location=location, manifest=manifest)
            self.stdout.write(f"restore: {count} files put back")
