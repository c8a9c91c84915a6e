"""A worker killed in the middle of a job: the stale-heartbeat sweep marks the job failed, the play stays
where it was, and the redelivered message does not run the job again."""
import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from apps.datasets.services import dataset_upload
from apps.playbook.services import play_update_deliverable
from apps.jobs import services as job_services
from apps.jobs.models import Job
from apps.jobs.runner import job_execute
from apps.playbook.services import play_job_start
from demo.generate import generate
from tests.conftest import ROOT, _database_url_for
from tests.helpers import GOOD_DELIVERABLE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def start_worker(queue: str, log):
    env = {**os.environ, "DATABASE_URL": _database_url_for(connection.settings_dict),
           "PLAYBOOK_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as handle:
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-P", "solo",
                                   "-l", "INFO", "-n", f"{queue}@%h", "--without-gossip", "--without-mingle"],
                                  cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while b"ready." not in log.read_bytes():
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.3)
    return worker


def test_a_killed_worker_leaves_a_failed_job_and_an_unchanged_play(team, tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.fail("integration tests need PostgreSQL: run them with `python manage.py testsuite`")
    rows, _ = generate(seed=2, rows=2000, production_rows=10)  # big enough that the job runs for seconds
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label"])
    writer.writeheader()
    writer.writerows(rows)
    dataset = dataset_upload(actor=team["mo"], project=team["project"],
                             upload=SimpleUploadedFile("big.csv", out.getvalue().encode()))
    play = play_update_deliverable(actor=team["mo"], play=team["play1"],
                                   deliverable={**GOOD_DELIVERABLE, "baseline_dataset": dataset.pk})
    before = (play.status, play.evidence)
    # Send the job only to a dedicated worker's queue, so no other worker of the suite takes it.
    queue = f"doomed-{os.getpid()}"
    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)
    job = play_job_start(actor=team["mo"], play=play, kind="baseline", params={"folds": 5})
    worker = start_worker(queue, tmp_path / "worker.log")
    try:
        from workers.tasks import run_light_job

        run_light_job.apply_async(args=[job.pk], queue=queue)
        deadline = time.monotonic() + 60
        while Job.objects.get(pk=job.pk).status != "running":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    job.refresh_from_db()
    assert job.status == "running", "the worker finished before it could be killed"
    assert jobs_stale_now() == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed" and "heartbeat" in job.error
    play.refresh_from_db()
    assert (play.status, play.evidence) == before
    assert job_execute(job.pk) == "skipped"  # the unacknowledged message, delivered again, changes nothing


def jobs_stale_now():
    later = timezone.now() + timedelta(seconds=settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS + 5)
    return job_services.jobs_fail_stale(now=later)
