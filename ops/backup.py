"""Backups and verified restores of the PostgreSQL database and the uploaded files.

A backup is one directory::

    <BACKUP_DIR>/<UTC time>/
        database.dump          pg_dump custom format, taken from one exported snapshot
        files/<root>.tar       every uploaded file under each file-storage root
        manifest.json          checksums of all of the above, the row count of every table
                               and the applied migrations, all read in that same snapshot
        manifest.json.sha256   the manifest's own checksum ("<hex>  manifest.json")

Consistency: a REPEATABLE READ transaction exports its snapshot, counts every table and
reads ``django_migrations`` in it, and ``pg_dump --snapshot`` dumps exactly that snapshot
while the transaction stays open, so the counts describe the dump row for row. Files are
copied after the snapshot: a file uploaded meanwhile is included without its row (harmless);
one deleted meanwhile is reported by ``restore --verify`` as a referenced file missing.

``restore --verify`` restores into a scratch database and checks it in a child process
whose ``DATABASE_URL`` points there (so every app's own code reads the restored rows):
row counts against the manifest, migrations to the current code, every referenced upload
present, every open swap consistent with the chain facts in the restored lock table
(``swaps.machine`` over ``swaps.onchain.lock_facts``, read-only), and with
``--chain-facts`` each of their locks against the chain itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.db.models import FileField
from django.utils import timezone

MANIFEST = "manifest.json"
CHECK_PREFIX = "restore-check: "  # the child's report line
FORMAT = 1
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore could not be made or does not check out."""


# ------------------------------------------------------------------ helpers


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backup_dir() -> Path:
    """``BACKUP_DIR``, else ``$VAR_DIR/backups``."""
    return Path(settings.BACKUP_DIR or Path(settings.VAR_DIR) / "backups")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: apt-get install postgresql-client")
    return found


def _db_settings() -> dict:
    if connection.vendor != "postgresql":
        raise BackupError(
            "backup and restore need PostgreSQL (DATABASE_URL); with the embedded SQLite, "
            "stop the stack and copy var/db.sqlite3 with `sqlite3 var/db.sqlite3 .backup FILE`"
        )
    return connection.settings_dict


def _pg_env(db: dict, name: str | None = None) -> dict[str, str]:
    """Environment for pg_dump/pg_restore/psql: the connection of `db` (to `name`)."""
    env = {**os.environ, "PGDATABASE": name or db["NAME"]}
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if db.get(key):
            env[var] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _connect(db: dict, name: str | None = None, **kwargs):
    import psycopg

    return psycopg.connect(
        dbname=name or db["NAME"],
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        **kwargs,
    )


def database_url(db: dict, name: str) -> str:
    """A ``postgres://`` URL for database `name` on the server of `db`."""
    user = urllib.parse.quote(str(db.get("USER") or ""), safe="")
    password = urllib.parse.quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{urllib.parse.quote(name, safe='')}"


def file_roots() -> dict[str, Path]:
    """Every local directory that holds uploads: ``media`` (MEDIA_ROOT) and the location of
    each other file-system storage a model's FileField uses (e.g. ``accounts.kycsubmission``
    for KYC documents), by a stable name."""
    roots: dict[str, Path] = {"media": Path(settings.MEDIA_ROOT).resolve()}
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if not isinstance(f, FileField) or not isinstance(f.storage, FileSystemStorage):
                continue
            location = Path(f.storage.location).resolve()
            if location not in roots.values():
                roots[model._meta.label_lower] = location
    return roots


def _tar_root(root: Path, archive: Path) -> dict[str, str]:
    """Write every regular file under `root` into `archive`; their sha256 by relative path."""
    entries: dict[str, str] = {}
    with tarfile.open(archive, "w") as tar:
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                rel = path.relative_to(root).as_posix()
                entries[rel] = sha256_file(path)
                tar.add(path, arcname=rel, recursive=False)
    return entries


# ------------------------------------------------------------------ backup


@dataclass(frozen=True)
class Backup:
    location: Path
    manifest: dict


def backup_create(*, destination: Path | None = None) -> Backup:
    """Write a consistent backup (see the module docstring) under `destination`
    (default ``BACKUP_DIR``, else ``$VAR_DIR/backups``) and record a ``BackupRun``.

    Raises ``BackupError`` (recorded as a failed run) when PostgreSQL or pg_dump fails.
    """
    from ops.models import BackupRun

    db = _db_settings()
    base = Path(destination or backup_dir())
    started = timezone.now()
    target = base / f"{started:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:6]}"
    (target / "files").mkdir(parents=True)
    try:
        manifest = _write_backup(db, target, started)
    except Exception as exc:
        BackupRun.objects.create(
            location=str(target), finished_at=timezone.now(), ok=False, error=str(exc)[:500]
        )
        raise BackupError(f"backup failed: {exc}") from exc
    manifest_sha = (target / f"{MANIFEST}.sha256").read_text().split()[0]
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    BackupRun.objects.create(
        location=str(target),
        finished_at=timezone.now(),
        ok=True,
        size_bytes=size,
        manifest_sha256=manifest_sha,
    )
    return Backup(location=target, manifest=manifest)


def _write_backup(db: dict, target: Path, started) -> dict:
    import psycopg
    from psycopg import sql

    dump = target / "database.dump"
    with _connect(db, autocommit=False) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            snapshot = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
            server_version = cur.execute("SHOW server_version").fetchone()[0]
            tables = [
                row[0]
                for row in cur.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "ORDER BY tablename"
                )
            ]
            counts = {
                t: cur.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
                ).fetchone()[0]
                for t in tables
            }
            migrations: dict[str, list[str]] = {}
            if "django_migrations" in tables:
                for app, name in cur.execute(
                    "SELECT app, name FROM django_migrations ORDER BY app, name"
                ):
                    migrations.setdefault(app, []).append(name)
            # The transaction stays open while pg_dump reads the exported snapshot.
            argv = [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "-f", str(dump)]
            done = subprocess.run(  # noqa: S603 (fixed argv)
                argv,
                env=_pg_env(db),
                capture_output=True,
                text=True,
                check=False,
            )
        conn.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[:400]}")
    files = {}
    for name, root in file_roots().items():
        archive = target / "files" / f"{name}.tar"
        entries = _tar_root(root, archive)
        files[name] = {
            "path": str(root),
            "archive": archive.relative_to(target).as_posix(),
            "sha256": sha256_file(archive),
            "entries": entries,
        }
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "database": {
            "vendor": "postgresql",
            "name": db["NAME"],
            "server_version": server_version,
            "snapshot": snapshot,
            "dump": dump.name,
            "sha256": sha256_file(dump),
            "bytes": dump.stat().st_size,
        },
        "tables": counts,
        "migrations": migrations,
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (target / MANIFEST).write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (target / f"{MANIFEST}.sha256").write_text(f"{digest}  {MANIFEST}\n")
    return manifest


def backup_latest(base: Path | None = None) -> Path | None:
    """The newest backup directory under `base` (default ``BACKUP_DIR``), or None."""
    base = Path(base or backup_dir())
    found = sorted(p for p in base.glob("*") if (p / MANIFEST).is_file()) if base.is_dir() else []
    return found[-1] if found else None


# ------------------------------------------------------------------ verify the files


def manifest_load(location: Path) -> dict:
    """The manifest of the backup at `location`, after checking its own checksum, the
    dump's and every archive's (and every file inside each archive).

    Raises ``BackupError`` naming the first thing that does not match.
    """
    manifest_path = location / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{location}: no {MANIFEST}")
    text = manifest_path.read_text()
    expected = (location / f"{MANIFEST}.sha256").read_text().split()[0]
    if hashlib.sha256(text.encode()).hexdigest() != expected:
        raise BackupError(f"{manifest_path}: checksum mismatch")
    manifest = json.loads(text)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{manifest_path}: unknown format {manifest.get('format')!r}")
    dump = location / manifest["database"]["dump"]
    if sha256_file(dump) != manifest["database"]["sha256"]:
        raise BackupError(f"{dump}: checksum mismatch")
    for name, spec in manifest["files"].items():
        archive = location / spec["archive"]
        if sha256_file(archive) != spec["sha256"]:
            raise BackupError(f"{archive}: checksum mismatch")
        with tarfile.open(archive) as tar:
            seen = {}
            for member in tar.getmembers():
                fh = tar.extractfile(member)
                if fh is not None:
                    seen[member.name] = hashlib.sha256(fh.read()).hexdigest()
        if seen != spec["entries"]:
            raise BackupError(f"{archive}: contents differ from the manifest ({name})")
    return manifest


# ------------------------------------------------------------------ restore


def _admin_execute(db: dict, statement) -> None:
    with _connect(db, "postgres", autocommit=True) as conn:
        conn.execute(statement)


def database_create(db: dict, name: str, *, replace: bool = False) -> None:
    """Create an empty database `name` on the server of `db` (dropping it first if
    `replace`). Raises ``BackupError`` if it exists and `replace` is false."""
    from psycopg import errors, sql

    if replace:
        database_drop(db, name)
    try:
        _admin_execute(db, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except errors.DuplicateDatabase as exc:
        raise BackupError(f"database {name} exists; pass --replace to overwrite it") from exc


def database_drop(db: dict, name: str) -> None:
    from psycopg import sql

    _admin_execute(
        db, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def database_restore(*, location: Path, manifest: dict, name: str) -> None:
    """pg_restore the backup's dump into the existing, empty database `name`."""
    db = _db_settings()
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
            name,
            str(location / manifest["database"]["dump"]),
        ],
        env=_pg_env(db, name),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:400]}")


def files_restore(*, location: Path, manifest: dict, roots: dict[str, Path] | None = None) -> int:
    """Put every archived file back under its root (this deployment's root of the same
    name, else the path recorded at backup time). Returns the number of files written.
    Existing files of the same name are overwritten; others are left alone."""
    roots = roots if roots is not None else file_roots()
    written = 0
    for name, spec in manifest["files"].items():
        root = Path(roots.get(name) or spec["path"])
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(location / spec["archive"]) as tar:
            tar.extractall(root, filter="data")
            written += sum(1 for m in tar.getmembers() if m.isfile())
    return written


@dataclass
class Report:
    """What ``restore --verify`` found. ``ok`` when nothing failed (warnings allowed)."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "failures": self.failures,
            "warnings": self.warnings,
            "facts": self.facts,
        }


def restore_verify(*, location: Path, keep: bool = False, chain_facts: bool = False) -> Report:
    """Restore the backup at `location` into a scratch database on the same server, check
    it (module docstring) in a child process, and drop the scratch database unless `keep`.

    Raises ``BackupError`` when the files do not match their checksums or the restore
    itself fails; check failures are in the returned report.
    """
    manifest = manifest_load(location)
    db = _db_settings()
    scratch = f"{db['NAME'][:40]}_verify_{uuid.uuid4().hex[:8]}"
    database_create(db, scratch)
    try:
        database_restore(location=location, manifest=manifest, name=scratch)
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        argv = [sys.executable, manage, "restore", str(location), "--check-restored"]
        if chain_facts:
            argv.append("--chain-facts")
        done = subprocess.run(  # noqa: S603 (fixed argv)
            argv,
            env={**os.environ, "DATABASE_URL": database_url(db, scratch)},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        line = next(
            (ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(CHECK_PREFIX)),
            None,
        )
        if line is None:
            raise BackupError(
                "the check of the restored database did not report: "
                f"{(done.stderr or done.stdout)[-800:]}"
            )
        data = json.loads(line.removeprefix(CHECK_PREFIX))
        report = Report(data["failures"], data["warnings"], data["facts"])
        report.facts["scratch_database"] = scratch
        return report
    finally:
        if not keep:
            database_drop(db, scratch)


# ------------------------------------------------------------------ checks (in the restored DB)


def check_restored(*, manifest: dict, chain_facts: bool = False) -> Report:
    """Run in a process whose default database is the restored copy: row counts against the
    manifest (before migrating), migrations up to this code, referenced uploads present in
    the backup, and every open swap consistent with its chain facts."""
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    from ops import consistency

    report = Report()
    counts = _table_counts()
    for table, expected in manifest["tables"].items():
        found = counts.get(table)
        if found != expected:
            report.failures.append(f"table {table}: {found} rows, manifest says {expected}")
    report.facts["tables"] = len(counts)
    report.facts["rows"] = sum(counts.values())
    call_command("migrate", "--noinput", verbosity=0, stdout=io.StringIO())
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        report.failures.append(f"{len(pending)} migrations still unapplied after migrate")
    report.facts["migrations_applied"] = len(executor.loader.applied_migrations)
    missing = _missing_uploads(manifest)
    report.failures += [f"referenced upload not in the backup: {m}" for m in missing]
    swaps = consistency.open_swaps_check(chain_facts=chain_facts)
    report.facts["open_swaps"] = swaps.checked
    report.failures += swaps.failures
    report.warnings += swaps.warnings
    return report


def _table_counts() -> dict[str, int]:
    with connection.cursor() as cur:
        names = connection.introspection.table_names(cur)
        out = {}
        for name in names:
            cur.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608
            out[name] = cur.fetchone()[0]
    return out


def _missing_uploads(manifest: dict) -> list[str]:
    """Names stored in FileFields of the restored rows whose file is not in the backup."""
    roots = file_roots()
    by_path = {str(Path(spec["path"])): spec for spec in manifest["files"].values()}
    by_name = manifest["files"]
    missing = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if not isinstance(f, FileField) or not isinstance(f.storage, FileSystemStorage):
                continue
            location = str(Path(f.storage.location).resolve())
            root_name = next((n for n, p in roots.items() if str(p) == location), None)
            spec = by_name.get(root_name) if root_name else None
            spec = spec or by_path.get(location)
            names = (
                model._default_manager.exclude(**{f.name: ""})
                .exclude(**{f"{f.name}__isnull": True})
                .values_list(f.name, flat=True)
            )
            for stored in names:
                if spec is None or stored not in spec["entries"]:
                    missing.append(f"{model._meta.label}.{f.name}={stored}")
    return missing
