"""Backing up and restoring a whole Playbook: the database and the data folder's artifacts, under a signed
manifest of hashes.

A backup folder holds `database.sql` (pg_dump, plain SQL) or `database.sqlite3` (SQLite's online backup),
the artifacts under `data/artifacts/`, and `manifest.json`: every file's sha256 and size, the audit chain's
head at the moment of the dump, and an HMAC over all of it (the audit key, apps.audit.head). A restore
checks all of that before it writes anything, loads onto an empty database and data folder only, and then
checks the result: the chain verifies, ends where the manifest says, and every row that names a file in
the data folder (datasets, splits, job artifacts, packages) finds it with its recorded hash.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.head import sign, signature_ok
from apps.audit.models import AuditChainHead
from apps.audit.verification import verify_chain

FORMAT = "playbook-backup/1"
MANIFEST = "manifest.json"
MANIFEST_PURPOSE = "backup-manifest"
ARTIFACTS = "artifacts"  # under the data folder, and under `data/` in a backup
SQL_DUMP = "database.sql"
SQLITE_DUMP = "database.sqlite3"


class BackupError(Exception):
    """A backup or restore refused or failed; the message says what and why."""


@dataclass
class Restored:
    events: int
    files: int
    rows_checked: int


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_env(db: dict) -> dict:
    """libpq's variables for the configured database: no password on a command line."""
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGHOST": db.get("HOST") or "127.0.0.1",
           "PGPORT": str(db.get("PORT") or 5432), "PGUSER": db.get("USER") or "postgres"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _run(args: list[str], env: dict, what: str) -> None:
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(f"{what} needs {args[0]}, which is not installed here (PostgreSQL's client tools, of the "
                          "server's major version or newer)") from exc
    if result.returncode:
        raise BackupError(f"{what} failed ({args[0]} exited with {result.returncode}): {result.stderr.strip()[-2000:]}")


# --- backup ----------------------------------------------------------------------------------------------

def backup_create(folder: Path) -> dict:
    """Write a backup into `folder` (new or empty) and return its manifest.

    The database is dumped first and the artifacts copied after it: an artifact is written before the row
    that names it commits (apps.core.storage), so every file a dumped row names is already there to copy;
    files that arrive meanwhile are copied too and are harmless."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: a backup goes into a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    db_file, head = _dump_postgresql(folder) if connection.vendor == "postgresql" else _dump_sqlite(folder)
    files = {db_file: _entry(folder / db_file)}
    source = Path(settings.DATA_DIR) / ARTIFACTS
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".incoming-"):
            rel = Path("data") / ARTIFACTS / path.relative_to(source)
            files[rel.as_posix()] = _copy_hashed(path, folder / rel)
    manifest = {"format": FORMAT, "created_at": timezone.now().isoformat(), "database": connection.vendor,
                "audit_head": head, "files": files}
    manifest["signature"] = sign(_canonical(manifest), purpose=MANIFEST_PURPOSE)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _entry(path: Path) -> dict:
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def _copy_hashed(source: Path, target: Path) -> dict:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            dst.write(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _head_dict() -> dict:
    head = AuditChainHead.objects.filter(pk=1).first()
    return {"seq": head.seq, "last_hash": head.last_hash} if head else {"seq": 0, "last_hash": ""}


def _dump_postgresql(folder: Path) -> tuple[str, dict]:
    """pg_dump of the very snapshot in which the head is read (an exported snapshot), so the manifest's head
    is the dump's head even while the site keeps writing."""
    if connection.in_atomic_block:
        raise BackupError("backup must run outside a transaction")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        head = _head_dict()
        _run(["pg_dump", "--format=plain", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              f"--file={folder / SQL_DUMP}"], _pg_env(connection.settings_dict), "pg_dump")
    return SQL_DUMP, head


def _dump_sqlite(folder: Path) -> tuple[str, dict]:
    """SQLite's online backup copies one consistent state; the head is then read from the copy itself."""
    connection.ensure_connection()
    target = sqlite3.connect(folder / SQLITE_DUMP)
    try:
        connection.connection.backup(target)
        row = target.execute("SELECT seq, last_hash FROM audit_auditchainhead WHERE id = 1").fetchone()
    finally:
        target.close()
    return SQLITE_DUMP, ({"seq": row[0], "last_hash": row[1]} if row else {"seq": 0, "last_hash": ""})


# --- restore ---------------------------------------------------------------------------------------------

def backup_check(folder: Path) -> dict:
    """The manifest, once its signature and every file's hash hold and no file is unlisted."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} has no readable {MANIFEST}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder / MANIFEST} is not a {FORMAT} manifest")
    if not signature_ok(_canonical(manifest), manifest.get("signature", ""), purpose=MANIFEST_PURPOSE):
        raise BackupError("the manifest's signature does not verify: it was altered, or it was signed with "
                          "another PLAYBOOK_AUDIT_KEY / SECRET_KEY. Restore with the backed-up site's key (set "
                          "PLAYBOOK_AUDIT_KEY, or SECRET_KEY / SECRET_KEY_FILE; the embedded run keeps its key "
                          "in its data folder's dev-secret-key file)")
    listed = manifest["files"]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    unlisted = sorted(present - set(listed) - {MANIFEST})
    if unlisted:
        raise BackupError(f"the backup holds files its manifest does not list: {', '.join(unlisted[:5])}")
    for rel, entry in listed.items():
        path = folder / rel
        if path.is_symlink() or not path.is_file():
            raise BackupError(f"{rel} is missing from the backup")
        if path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{rel} was changed since the backup (its sha256 differs from the manifest)")
    return manifest


def restore_target_problem() -> str:
    """Why the configured database and data folder cannot take a restore ("" when both are empty)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            tables = cursor.fetchone()[0]
    else:
        tables = len(connection.introspection.table_names())
    if tables:
        return f"the target database {connection.settings_dict['NAME']} is not empty ({tables} tables)"
    artifacts = Path(settings.DATA_DIR) / ARTIFACTS
    if artifacts.exists() and any(artifacts.iterdir()):
        return f"the target data folder already holds artifacts ({artifacts})"
    return ""


def backup_restore(folder: Path) -> Restored:
    """Restore `folder` onto the configured (empty) database and data folder, then verify the result.

    Everything that can be refused is checked before anything is written. If a check after the load fails,
    the restored data is left in place for inspection and the error says what did not verify."""
    folder = Path(folder)
    manifest = backup_check(folder)
    if manifest["database"] != connection.vendor:
        raise BackupError(f"this backup is of a {manifest['database']} database; the target is {connection.vendor}")
    problem = restore_target_problem()
    if problem:
        raise BackupError(f"{problem}: restore onto a fresh database and data folder")
    if connection.vendor == "postgresql":
        connection.close()
        _run(["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--single-transaction",
              f"--file={folder / SQL_DUMP}"], _pg_env(connection.settings_dict), "loading the dump with psql")
    else:
        _restore_sqlite(folder / SQLITE_DUMP)
    files = _place_artifacts(folder, manifest)
    return Restored(events=_verify_chain_against(manifest), files=files, rows_checked=verify_artifact_rows())


def _restore_sqlite(dump: Path) -> None:
    target = Path(connection.settings_dict["NAME"])
    connection.close()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
    os.close(fd)
    shutil.copyfile(dump, name)
    os.replace(name, target)


def _place_artifacts(folder: Path, manifest: dict) -> int:
    """Copy the artifacts into a temporary folder beside their place, re-hash each copy, then move the
    whole folder into place: the data folder never shows half a restore."""
    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".restore-"))
    prefix = f"data/{ARTIFACTS}/"
    count = 0
    try:
        for rel, entry in manifest["files"].items():
            if not rel.startswith(prefix):
                continue
            copied = _copy_hashed(folder / rel, staging / rel[len(prefix):])
            if copied != entry:
                raise BackupError(f"{rel} changed while it was being restored")
            count += 1
        target = data_dir / ARTIFACTS
        if target.exists():
            target.rmdir()  # empty, as checked before the load
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def _verify_chain_against(manifest: dict) -> int:
    report = verify_chain()
    if not report.ok:
        where = f"at event #{report.broken_event_id}" if report.broken_event_id else "at its end"
        raise BackupError(f"the restored audit chain does not verify {where}: {report.problem}")
    head = _head_dict()
    if head != manifest["audit_head"]:
        raise BackupError(f"the restored chain ends at {head['seq']} events, {head['last_hash'][:12] or '(none)'}; "
                          f"the manifest says {manifest['audit_head']['seq']}, "
                          f"{manifest['audit_head']['last_hash'][:12] or '(none)'}")
    return report.checked


def _file_rows():
    """Every model that names a file in the data folder by `path` and records its `sha256`."""
    for model in apps.get_models():
        names = {f.name for f in model._meta.get_fields()}
        if {"path", "sha256"} <= names:
            yield model


def verify_artifact_rows() -> int:
    """Each row's file, or for a folder (a checkpoint, a package) its manifest.json, hashes to the row's
    sha256, and every file that manifest lists hashes to its entry. Returns the number of rows checked."""
    data_dir = Path(settings.DATA_DIR)
    checked = 0
    for model in _file_rows():
        for pk, rel, expected in model.objects.values_list("pk", "path", "sha256").iterator():
            label = f"{model._meta.label} #{pk} ({rel})"
            path = data_dir / rel
            if path.is_dir():
                listed = path / "manifest.json"
                if not listed.is_file() or _sha256(listed) != expected:
                    raise BackupError(f"{label}: its manifest.json is missing or does not hash to the row's sha256")
                for name, entry in json.loads(listed.read_text()).get("files", {}).items():
                    if not (path / name).is_file() or _sha256(path / name) != entry.get("sha256"):
                        raise BackupError(f"{label}: {name} is missing or altered")
            elif not path.is_file() or _sha256(path) != expected:
                raise BackupError(f"{label}: the file is missing or does not hash to the row's sha256")
            checked += 1
    return checked
