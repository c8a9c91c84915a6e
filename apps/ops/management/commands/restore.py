"""`python manage.py restore <folder>`: a backup onto a fresh database and data folder, then verified."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.ops.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = ("Restore a backup onto the configured database and data folder, which must both be empty. Refuses a "
            "manifest whose signature does not verify and any changed, missing or unlisted file before writing "
            "anything; afterwards checks the audit chain, its head against the manifest and every artifact's hash.")

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder, **options):
        try:
            restored = backup_restore(folder)
        except BackupError as exc:
            raise CommandError(f"restore refused or failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"restored from {folder}: {restored.files} artifact files; audit chain of {restored.events} events "
            f"verified against the manifest's head; {restored.rows_checked} file rows match their sha256"))
