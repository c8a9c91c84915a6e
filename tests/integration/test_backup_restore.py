"""`backup` and `restore` on real PostgreSQL: pg_dump of the test database, psql into a second, empty
database, a temporary data folder, and `restore` run as its own process, as an operator would.

The restore must bring back every event (the chain verifying against the manifest's head) and every
artifact with its hash, and must refuse, changing nothing, a manifest whose signature does not verify, a
changed or unlisted file and a target that is not empty; a dump that loads but does not verify is reported.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from apps.audit.head import sign
from apps.audit.models import AuditChainHead, AuditEvent
from apps.datasets.models import Dataset
from apps.ops.backups import MANIFEST_PURPOSE, BackupError, _canonical, backup_check
from apps.datasets.services import dataset_upload
from apps.playbook.services import play_update_deliverable
from tests.conftest import SAMPLE_CSV, _database_url_for
from tests.helpers import GOOD_DELIVERABLE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_backup(team, sample_upload, tmp_path, settings):
    """A project with two datasets (files under its own data folder: other tests' artifacts stay out) and its
    events, backed up."""
    if connection.vendor != "postgresql":
        pytest.fail("backup and restore are tested on PostgreSQL: run the suite with `python manage.py testsuite`")
    settings.DATA_DIR = tmp_path / "data"
    for content in (SAMPLE_CSV, SAMPLE_CSV.replace("plan", "subscription")):
        dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload(content))
    play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable=GOOD_DELIVERABLE)
    folder = tmp_path / "backup"
    call_command("backup", str(folder))
    return folder


class Target:
    """A second, empty PostgreSQL database and an empty data folder to restore onto."""

    def __init__(self, tmp_path: Path, suffix: str):
        self.name = f"{connection.settings_dict['NAME']}_{suffix}"
        self.url = _database_url_for({**connection.settings_dict, "NAME": self.name})
        self.data_dir = tmp_path / f"data-{suffix}"
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')

    def _admin(self, *statements):
        with psycopg.connect(_database_url_for({**connection.settings_dict, "NAME": "postgres"}),
                             autocommit=True) as admin:
            for sql in statements:
                admin.execute(sql)

    def drop(self):
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def manage(self, *args) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": self.url, "PLAYBOOK_DATA_DIR": str(self.data_dir),
               "SECRET_KEY": settings.SECRET_KEY, "PLAYBOOK_AUDIT_KEY": settings.PLAYBOOK_AUDIT_KEY,
               "PLAYBOOK_NO_BOOTSTRAP": "1", "DEBUG": "false"}
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)

    def query(self, sql: str):
        with psycopg.connect(self.url) as db:
            return db.execute(sql).fetchall()

    def is_empty(self) -> bool:
        tables = self.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0]
        artifacts = self.data_dir / "artifacts"
        return tables == 0 and not (artifacts.exists() and any(artifacts.iterdir()))


@pytest.fixture
def target(tmp_path):
    made = []

    def make(suffix: str = "restore") -> Target:
        made.append(Target(tmp_path, suffix))
        return made[-1]

    yield make
    for t in made:
        t.drop()


def resign(folder: Path, change):
    """Change a backup as someone holding the key could: edit, re-hash the files, sign the manifest again."""
    manifest = json.loads((folder / "manifest.json").read_text())
    change(folder, manifest)
    for rel, entry in manifest["files"].items():
        raw = (folder / rel).read_bytes()
        entry.update(sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw))
    manifest["signature"] = sign(_canonical(manifest), purpose=MANIFEST_PURPOSE)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_restore_on_a_fresh_database_brings_back_every_event_and_artifact(project_backup, target):
    manifest = json.loads((project_backup / "manifest.json").read_text())
    head = AuditChainHead.objects.get()
    assert manifest["audit_head"] == {"seq": head.seq, "last_hash": head.last_hash} and head.seq > 8
    artifact_files = [rel for rel in manifest["files"] if rel.startswith("data/artifacts/")]
    datasets = list(Dataset.objects.order_by("id").values_list("path", "sha256"))
    assert sorted(f"data/{path}" for path, _ in datasets) == sorted(artifact_files) and len(datasets) == 2

    fresh = target()
    restored = fresh.manage("restore", str(project_backup))
    assert restored.returncode == 0, restored.stderr
    assert f"audit chain of {head.seq} events verified" in restored.stdout and "2 file rows match" in restored.stdout

    assert fresh.query("SELECT count(*), max(hash) FROM audit_auditevent")[0] == (
        AuditEvent.objects.count(), max(AuditEvent.objects.values_list("hash", flat=True)))
    assert fresh.query("SELECT seq, last_hash, signature FROM audit_auditchainhead") == [
        (head.seq, head.last_hash, head.signature)]
    assert fresh.query("SELECT path, sha256 FROM datasets_dataset ORDER BY id") == datasets
    for rel in artifact_files:
        source = Path(settings.DATA_DIR) / rel.removeprefix("data/")
        assert (fresh.data_dir / rel.removeprefix("data/")).read_bytes() == source.read_bytes()

    # A second restore onto the now non-empty target is refused, and changes nothing.
    again = fresh.manage("restore", str(project_backup))
    assert again.returncode != 0 and "is not empty" in again.stderr
    assert fresh.query("SELECT count(*) FROM audit_auditevent")[0][0] == AuditEvent.objects.count()


def test_restore_refuses_a_bad_signature_or_a_changed_missing_or_unlisted_file(project_backup, target, tmp_path):
    fresh = target()
    forged = tmp_path / "forged"
    shutil.copytree(project_backup, forged)
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["audit_head"]["seq"] += 1
    (forged / "manifest.json").write_text(json.dumps(manifest))
    refused = fresh.manage("restore", str(forged))
    assert refused.returncode != 0 and "signature does not verify" in refused.stderr
    assert fresh.is_empty()

    artifact = next(rel for rel in json.loads((project_backup / "manifest.json").read_text())["files"]
                    if rel.startswith("data/artifacts/"))
    cases = {
        "changed artifact": (lambda f: (f / artifact).write_bytes((f / artifact).read_bytes() + b"x"), "was changed"),
        "changed dump": (lambda f: (f / "database.sql").open("a").write("-- edited\n"), "database.sql was changed"),
        "missing file": (lambda f: (f / artifact).unlink(), "is missing"),
        "unlisted file": (lambda f: (f / "data" / "artifacts" / "extra.bin").write_bytes(b"x"), "does not list"),
    }
    for name, (tamper, message) in cases.items():
        copy = tmp_path / name.replace(" ", "-")
        shutil.copytree(project_backup, copy)
        tamper(copy)
        with pytest.raises(BackupError, match=message):
            backup_check(copy)
    backup_check(project_backup)  # the untouched backup passes the same checks


def test_a_dump_that_loads_but_does_not_verify_is_reported(project_backup, target, tmp_path):
    """Even with the key (the manifest re-signed), an altered event or a head other than the manifest's is
    caught after the load."""
    def alter_an_event(folder, manifest):
        lines, in_audit = (folder / "database.sql").read_text().splitlines(keepends=True), False
        for i, line in enumerate(lines):
            in_audit = line.startswith("COPY public.audit_auditevent ") or (in_audit and line != "\\.\n")
            if in_audit and "\tplay.started\t" in line:
                lines[i] = line.replace("\tplay.started\t", "\tplay.stopped\t")
                break
        else:
            raise AssertionError("no play.started event in the dump")
        (folder / "database.sql").write_text("".join(lines))

    altered = tmp_path / "altered"
    shutil.copytree(project_backup, altered)
    resign(altered, alter_an_event)
    fresh = target("altered")
    result = fresh.manage("restore", str(altered))
    assert result.returncode != 0 and "does not verify" in result.stderr and "altered" in result.stderr, result.stderr

    other_head = tmp_path / "other-head"
    shutil.copytree(project_backup, other_head)
    resign(other_head, lambda folder, manifest: manifest["audit_head"].update(seq=manifest["audit_head"]["seq"] - 1))
    fresh = target("head")
    result = fresh.manage("restore", str(other_head))
    assert result.returncode != 0 and "the manifest says" in result.stderr, result.stderr


SQLITE_SCRIPT = """
import sys
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from apps.accounts.services import user_create
from apps.datasets.services import dataset_upload
from apps.playbook.services import project_create
owner = user_create(actor=None, username="owner", password="pw-123-long")
project = project_create(actor=owner, name="P", request="R")
dataset_upload(actor=owner, project=project, upload=SimpleUploadedFile("s.csv", sys.argv[1].encode()))
"""


@pytest.mark.django_db
def test_backup_and_restore_on_sqlite_the_embedded_default(tmp_path):
    """The embedded mode (no DATABASE_URL given) backs up with SQLite's online backup and restores the same way."""
    def run(data_dir: Path, *args) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{data_dir / 'playbook.sqlite3'}",
               "PLAYBOOK_DATA_DIR": str(data_dir), "DEBUG": "true", "SECRET_KEY": settings.SECRET_KEY,
               "PLAYBOOK_AUDIT_KEY": settings.PLAYBOOK_AUDIT_KEY, "DJANGO_SETTINGS_MODULE": "config.settings",
               "PLAYBOOK_NO_BOOTSTRAP": "1"}
        env.pop("CELERY_BROKER_URL", None)
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)

    source, restored, folder = tmp_path / "source", tmp_path / "restored", tmp_path / "backup"
    for step in (("manage.py", "migrate", "-v0"), ("-c", SQLITE_SCRIPT, SAMPLE_CSV), ("manage.py", "backup", str(folder))):
        result = run(source, *step)
        assert result.returncode == 0, result.stderr
    assert json.loads((folder / "manifest.json").read_text())["database"] == "sqlite"
    result = run(restored, "manage.py", "restore", str(folder))
    assert result.returncode == 0, result.stderr
    assert "audit chain of 6 events verified" in result.stdout and "1 file rows match" in result.stdout
