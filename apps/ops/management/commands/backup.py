"""`python manage.py backup <folder>`: the database and the data folder's artifacts, with a signed manifest."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.ops.backups import BackupError, backup_create


class Command(BaseCommand):
    help = ("Back up the database (pg_dump, or SQLite's online backup) and the data folder's artifacts into a new "
            "or empty folder, with manifest.json: every file's sha256, the audit chain's head, an HMAC signature.")

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder, **options):
        try:
            manifest = backup_create(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        head = manifest["audit_head"]
        self.stdout.write(self.style.SUCCESS(
            f"backup written to {folder}: {len(manifest['files'])} files, audit chain of {head['seq']} events"))
