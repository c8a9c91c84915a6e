"""Seed the demo: a user per role and an admin, the support-ticket project, and its data files."""
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from apps.accounts.services import user_create
from apps.datasets.services import dataset_upload
from apps.ops.demo_cycle import demo_candidates
from apps.playbook.models import Project
from apps.playbook.services import member_add, project_create
from apps.training.candidates import candidate_register
from demo.generate import write_demo_files

DEMO_USERS = [
    ("admin", True, "admin: audit trail, Django admin, solo mode"),
    ("model.owner", False, "model owner: Plays 1, 2, 4, 6"),
    ("data.owner", False, "data owner: Play 3, monitoring in Play 6"),
    ("signoff.owner", False, "sign-off owner: decides every gate, owns Play 5"),
]
DEMO_PROJECT = "Support ticket routing"
DEMO_REQUEST = (
    "Support leads asked for incoming help-desk tickets to be routed to the right queue automatically. "
    "Today agents triage by hand and roughly one ticket in five lands in the wrong queue first."
)


def demo_password() -> str:
    return os.environ.get("PLAYBOOK_DEMO_PASSWORD", "playbook-demo")


class Command(BaseCommand):
    help = "Create the demo users, project and data (idempotent: existing ones are left as they are)."

    def handle(self, *args, **options):
        User = get_user_model()
        password = demo_password()
        for username, staff, _ in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                user_create(actor=None, username=username, password=password, is_staff=staff)
        files = write_demo_files(settings.DATA_DIR / "demo")
        if not Project.objects.filter(name=DEMO_PROJECT).exists():
            owner = User.objects.get(username="model.owner")
            project = project_create(actor=owner, name=DEMO_PROJECT, request=DEMO_REQUEST)
            member_add(actor=owner, project=project, username="data.owner", role="data_owner")
            member_add(actor=owner, project=project, username="signoff.owner", role="signoff_owner")
            sample = files["sample"]
            dataset_upload(actor=owner, project=project, name="Support tickets (labelled sample)",
                           upload=SimpleUploadedFile(sample.name, sample.read_bytes(), "text/csv"))
            for candidate in demo_candidates():
                candidate_register(actor=owner, project=project, **candidate)
        self.stdout.write(f"demo data files: {files['sample']} and {files['production']}")
