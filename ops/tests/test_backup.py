"""Backups: a consistent dump plus uploads, destroyed, restored and verified (PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from ops import backup
from ops.models import BackupRun
from swaps.models import Swap
from swaps.tests.flow import detail, scan_all, send, take

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres(postgres_url):
    if connection.vendor != "postgresql":
        pytest.skip("backup and restore need PostgreSQL")
    return connection.settings_dict


def _locked_swap(swap_env) -> str:
    """A swap whose taker has locked on local-b (an open swap with a chain fact)."""
    swap, _, _, (taker_api, taker_key), _ = take(swap_env)
    _, b = swap_env
    send(b, taker_key, swap["next_action"])  # approve
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])  # lock
    scan_all(swap_env)
    assert Swap.objects.get(pk=swap["id"]).state == "taker_locked"
    return swap["id"]


def _avatar(user: User) -> Path:
    path = Path(settings.MEDIA_ROOT) / "avatars" / "backup-test.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG backup test " * 50)
    User.objects.filter(pk=user.pk).update(avatar="avatars/backup-test.png")
    return path


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _count(db: dict, name: str, table: str) -> int:
    with backup._connect(db, name) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_backup_destroy_restore_and_verify(postgres, swap_env, tmp_path):
    # given: an open swap with a confirmed lock, and an uploaded avatar
    swap_id = _locked_swap(swap_env)
    avatar = _avatar(Swap.objects.get(pk=swap_id).taker)
    avatar_sha = hashlib.sha256(avatar.read_bytes()).hexdigest()
    swaps_before = Swap.objects.count()

    # when: backed up
    out = _run("backup", "--to", str(tmp_path))
    location = Path(out.split()[1])

    # then: the manifest counts every table in the dump's snapshot, and lists the upload
    manifest = backup.manifest_load(location)
    assert manifest["tables"]["swaps_swap"] == swaps_before
    assert manifest["files"]["media"]["entries"]["avatars/backup-test.png"] == avatar_sha
    assert "ops" in manifest["migrations"]
    assert BackupRun.objects.filter(ok=True, location=str(location)).exists()

    # when: it is verified in a scratch database
    report = _run("restore", str(location), "--verify")

    # then: counts, migrations, uploads and the open swap all check out
    assert "restore --verify: ok" in report
    assert "open_swaps 1" in report

    # when: the data is destroyed (the upload deleted, the swap's history wiped)...
    avatar.unlink()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM swaps_swapevent")
    # ...and the backup is restored into a new database, with the files
    target = f"{postgres['NAME'][:40]}_restored"
    try:
        _run("restore", str(location), "--into", target, "--replace", "--files")
        # then: the restored database has the rows of the backup, the file is back
        assert _count(postgres, target, "swaps_swap") == swaps_before
        assert _count(postgres, target, "swaps_swapevent") == manifest["tables"]["swaps_swapevent"]
        assert manifest["tables"]["swaps_swapevent"] > 0
        assert hashlib.sha256(avatar.read_bytes()).hexdigest() == avatar_sha
    finally:
        backup.database_drop(postgres, target)


def test_verify_refuses_a_tampered_backup(postgres, tmp_path):
    # given: a backup whose dump lost a byte
    location = Path(_run("backup", "--to", str(tmp_path)).split()[1])
    dump = location / "database.dump"
    dump.write_bytes(dump.read_bytes()[:-1])
    # when / then
    with pytest.raises(CommandError, match="database.dump: checksum mismatch"):
        _run("restore", str(location), "--verify")


def test_verify_fails_an_open_swap_its_chain_facts_contradict(postgres, swap_env, tmp_path):
    # given: a swap recorded as maker_locked though only the taker's lock is on chain
    swap_id = _locked_swap(swap_env)
    Swap.objects.filter(pk=swap_id).update(state="maker_locked")
    location = Path(_run("backup", "--to", str(tmp_path)).split()[1])
    # when
    report = backup.restore_verify(location=location)
    # then
    assert not report.ok
    assert any(str(swap_id) in f and "imply taker_locked" in f for f in report.failures)


def test_verify_fails_when_the_restored_rows_do_not_match_the_manifest(postgres, tmp_path):
    # given: a manifest that claims one more user than the dump holds (checksum redone)
    location = Path(_run("backup", "--to", str(tmp_path)).split()[1])
    manifest = json.loads((location / backup.MANIFEST).read_text())
    manifest["tables"]["accounts_user"] += 1
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (location / backup.MANIFEST).write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (location / f"{backup.MANIFEST}.sha256").write_text(f"{digest}  {backup.MANIFEST}\n")
    # when
    report = backup.restore_verify(location=location)
    # then
    assert [f for f in report.failures if f.startswith("table accounts_user:")]


def test_backup_on_sqlite_says_what_to_do_instead(tmp_path):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite refusal is tested on SQLite")
    with pytest.raises(CommandError, match="need PostgreSQL"):
        _run("backup", "--to", str(tmp_path))
    assert BackupRun.objects.count() == 0
