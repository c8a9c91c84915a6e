from django.core.management.base import BaseCommand, CommandError

from apps.audit.verification import verify_chain


class Command(BaseCommand):
    help = ("Walk the audit hash chain and check it against its signed head; exit non-zero naming the first "
            "broken event (or the head's disagreement) if anything was altered, removed, reordered, added or cut.")

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            where = f"at event #{report.broken_event_id}" if report.broken_event_id else "at its end"
            raise CommandError(f"audit chain broken {where}: {report.problem} "
                               f"({report.checked} events before it verified)")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} events verified, "
                                             "ending where its signed head says"))
