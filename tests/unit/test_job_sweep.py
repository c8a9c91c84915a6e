"""The queue sweep and the worker's fault handling, without a broker: a job the broker refused, or whose
message was lost, is sent again with a growing delay and failed (audited) when nobody picks it up; a
resent job still runs once; a failed job's folder is removed; the worker's writes outlive a database
blip; a full data folder is a clear refusal."""
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from apps.audit.models import AuditEvent
from apps.core import storage
from apps.core.errors import StorageFull
from apps.datasets.services import dataset_upload
from apps.jobs import runner
from apps.jobs import services as job_services
from apps.jobs.models import Job
from apps.jobs.runner import job_execute
from apps.playbook.services import play_job_start, play_update_deliverable
from tests.helpers import GOOD_DELIVERABLE

pytestmark = pytest.mark.django_db

RESEND = 100  # PLAYBOOK_QUEUED_RESEND_SECONDS in these tests


@pytest.fixture
def sweep_settings(settings):
    settings.PLAYBOOK_QUEUED_RESEND_SECONDS = RESEND
    settings.PLAYBOOK_QUEUED_MAX_RESENDS = 3
    settings.PLAYBOOK_QUEUED_MAX_AGE_SECONDS = 3600
    return settings


@pytest.fixture
def broker(monkeypatch):
    """Records what would be published; `broker.down = True` makes every publish fail as Redis would."""

    class Broker:
        down = False
        sent: list[int] = []

        def publish(self, job_id, queue):
            if self.down:
                raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            self.sent.append(job_id)

    fake = Broker()
    fake.sent = []
    monkeypatch.setattr(job_services, "_publish", fake.publish)
    return fake


@pytest.fixture
def queue_baseline(team, sample_upload, django_capture_on_commit_callbacks):
    """Queue Play 1's baseline job as the model owner does (the send runs after commit, as in production)."""

    def queue():
        dataset = dataset_upload(actor=team["mo"], project=team["project"], upload=sample_upload())
        play = play_update_deliverable(actor=team["mo"], play=team["play1"],
                                       deliverable={**GOOD_DELIVERABLE, "baseline_dataset": dataset.pk})
        with django_capture_on_commit_callbacks(execute=True):
            job = play_job_start(actor=team["mo"], play=play, kind="baseline", params={"folds": 3})
        job.refresh_from_db()
        return job

    return queue


def events(job, action):
    return list(AuditEvent.objects.filter(object_id=str(job.pk), action=action).order_by("id"))


def test_a_broker_error_at_enqueue_keeps_the_job_and_the_sweep_sends_it_later(sweep_settings, broker,
                                                                              queue_baseline, caplog):
    broker.down = True
    job = queue_baseline()  # the page's request succeeds although the broker is away
    assert (job.status, job.send_count, job.sent_at) == ("queued", 0, None)
    assert "the broker refused its message" in caplog.text
    assert job_services.jobs_resend_queued(now=job.created_at + timedelta(seconds=RESEND - 1)) == \
        {"resent": [], "failed": []}
    broker.down = False
    later = job.created_at + timedelta(seconds=RESEND + 1)
    assert job_services.jobs_resend_queued(now=later) == {"resent": [job.pk], "failed": []}
    job.refresh_from_db()
    assert (job.status, job.send_count, job.sent_at, broker.sent) == ("queued", 1, later, [job.pk])
    [resent] = events(job, "job.resent")
    assert resent.actor_label == "system" and resent.after["reason"] == "the broker refused its first send"


def test_a_job_never_picked_up_is_resent_with_backoff_then_failed_and_audited(sweep_settings, broker,
                                                                             queue_baseline):
    job = queue_baseline()
    assert (job.send_count, broker.sent) == (1, [job.pk])
    play_before = (job.play.status, job.play.evidence)
    sent_at, waits = job.sent_at, []
    for send_count in (1, 2, 3):  # the wait after the n-th send: RESEND * 2**(n-1)
        wait = RESEND * 2 ** (send_count - 1)
        assert job_services.jobs_resend_queued(now=sent_at + timedelta(seconds=wait - 1))["resent"] == []
        sent_at += timedelta(seconds=wait)
        assert job_services.jobs_resend_queued(now=sent_at) == {"resent": [job.pk], "failed": []}
        waits.append(wait)
    assert waits == [100, 200, 400] and broker.sent == [job.pk] * 4
    result = job_services.jobs_resend_queued(now=sent_at + timedelta(seconds=RESEND * 8))
    assert result == {"resent": [], "failed": [job.pk]}
    job.refresh_from_db()
    assert job.status == "failed" and "No worker picked this job up: it was sent 4 times" in job.error
    assert "'default' queue" in job.error
    [failed] = events(job, "job.failed")
    assert failed.actor_label == "system" and failed.before == {"status": "queued"}
    assert len(events(job, "job.resent")) == 3
    job.play.refresh_from_db()
    assert (job.play.status, job.play.evidence) == play_before
    assert job_services.jobs_resend_queued(now=sent_at + timedelta(days=30)) == {"resent": [], "failed": []}


def test_a_job_waiting_behind_a_live_job_on_its_queue_is_left_to_wait(sweep_settings, broker, queue_baseline,
                                                                       team, sample_upload):
    from apps.datasets.curation import dataset_seal

    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    busy = dataset_seal(actor=team["do"], dataset=dataset, train=0.7, val=0.15, test=0.15, seed=0)
    assert job_services.job_claim(job_id=busy.pk) is not None  # the light queue's worker is on it
    job = queue_baseline()
    assert job.queue == busy.queue == "default"
    long_after = job.sent_at + timedelta(seconds=RESEND * 30)  # four resends' worth, under the max age
    Job.objects.filter(pk=busy.pk).update(heartbeat_at=long_after)  # ... and the busy job still beats
    assert job_services.jobs_resend_queued(now=long_after) == {"resent": [], "failed": []}
    job_services.job_finish_unsuccessfully(job_id=busy.pk, error="done with it")
    assert job_services.jobs_resend_queued(now=long_after) == {"resent": [job.pk], "failed": []}
    # Past the max age it fails even behind a live job.
    Job.objects.filter(pk=busy.pk).update(status="running", heartbeat_at=long_after + timedelta(hours=2))
    result = job_services.jobs_resend_queued(now=long_after + timedelta(hours=2))
    assert result == {"resent": [], "failed": [job.pk]}


def test_a_job_claimed_while_the_sweep_decides_to_fail_it_is_left_running(sweep_settings, broker, queue_baseline,
                                                                           monkeypatch):
    job = queue_baseline()
    real_lock = job_services.audit_chain_lock

    def lock_after_a_worker_claimed_it():
        Job.objects.filter(pk=job.pk, status="queued").update(status="running", heartbeat_at=timezone.now())
        real_lock()

    monkeypatch.setattr(job_services, "audit_chain_lock", lock_after_a_worker_claimed_it)
    assert job_services.jobs_resend_queued(now=job.created_at + timedelta(seconds=3600)) == \
        {"resent": [], "failed": []}
    job.refresh_from_db()
    assert job.status == "running" and events(job, "job.failed") == []


def test_a_worker_that_beats_while_the_stale_sweep_decides_is_left_running(sweep_settings, broker, queue_baseline,
                                                                           monkeypatch):
    job = queue_baseline()
    silent = timezone.now() - timedelta(seconds=3600)
    Job.objects.filter(pk=job.pk).update(status="running", started_at=silent, heartbeat_at=silent)
    real_lock = job_services.audit_chain_lock

    def lock_after_the_worker_beat():
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
        real_lock()

    monkeypatch.setattr(job_services, "audit_chain_lock", lock_after_the_worker_beat)
    assert job_services.jobs_fail_stale() == []
    job.refresh_from_db()
    assert job.status == "running" and events(job, "job.failed") == []

    monkeypatch.setattr(job_services, "audit_chain_lock", real_lock)  # silent for real: failed
    Job.objects.filter(pk=job.pk).update(heartbeat_at=silent)
    assert job_services.jobs_fail_stale() == [job.pk]
    assert len(events(job, "job.failed")) == 1


def test_a_job_older_than_the_max_age_is_failed_whatever_its_sends(sweep_settings, broker, queue_baseline):
    sweep_settings.PLAYBOOK_QUEUED_MAX_RESENDS = 100
    job = queue_baseline()
    result = job_services.jobs_resend_queued(now=job.created_at + timedelta(seconds=3600))
    assert result == {"resent": [], "failed": [job.pk]}
    job.refresh_from_db()
    assert job.status == "failed" and "waited 3600 s" in job.error


def test_a_resent_job_runs_once_and_running_jobs_are_never_resent(sweep_settings, broker, queue_baseline):
    job = queue_baseline()
    later = job.sent_at + timedelta(seconds=RESEND)
    assert job_services.jobs_resend_queued(now=later)["resent"] == [job.pk]
    claimed = job_services.job_claim(job_id=job.pk)  # one of the two messages is taken
    assert claimed is not None
    assert job_services.jobs_resend_queued(now=later + timedelta(days=2)) == {"resent": [], "failed": []}
    assert job_execute(job.pk) == "skipped"  # the other copy, delivered too, does nothing
    job.refresh_from_db()
    assert job.status == "running" and len(events(job, "job.started")) == 1


def test_two_sweeps_at_once_send_a_lost_message_once(sweep_settings, broker, queue_baseline, monkeypatch):
    job = queue_baseline()
    later = job.sent_at + timedelta(seconds=RESEND)
    # This sweep read the job, then waited for the lock while another sweep resent it: it sends nothing.
    real_lock = job_services.audit_chain_lock

    def lock_after_the_other_sweep():
        Job.objects.filter(pk=job.pk).update(send_count=2, sent_at=later)
        real_lock()

    monkeypatch.setattr(job_services, "audit_chain_lock", lock_after_the_other_sweep)
    assert job_services.jobs_resend_queued(now=later) == {"resent": [], "failed": []}
    assert broker.sent == [job.pk] and events(job, "job.resent") == []


def test_a_failed_job_leaves_no_folder(sweep_settings, broker, queue_baseline, django_capture_on_commit_callbacks):
    job = queue_baseline()
    job_services.job_claim(job_id=job.pk)
    half = storage.checkpoint_dir(job.pk) / ".stage-1.abc.tmp"
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"half a checkpoint")
    with django_capture_on_commit_callbacks(execute=True):
        assert job_services.job_finish_unsuccessfully(job_id=job.pk, error="it broke")
    assert not storage.checkpoint_dir(job.pk).exists()


def test_worker_writes_are_retried_through_a_database_restart(settings, monkeypatch):
    settings.PLAYBOOK_DB_RETRY_SECONDS = 5
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: pauses.append(seconds))
    pauses, calls = [], []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) < 4:
            raise OperationalError("server closed the connection unexpectedly")
        return "written"

    assert runner.with_db_retry(flaky, job_id=7) == "written"
    assert pauses == [0.25, 0.5, 1.0] and calls == [{"job_id": 7}] * 4


def test_worker_writes_give_up_when_the_database_stays_away(settings, monkeypatch):
    settings.PLAYBOOK_DB_RETRY_SECONDS = 0
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: pytest.fail("no pause past the deadline"))

    def down(**kwargs):
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        runner.with_db_retry(down)


def test_a_full_disk_is_a_clear_refusal_and_leaves_no_temporary_file(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", full)
    with pytest.raises(StorageFull, match="The data folder is full"):
        storage.write_content_addressed(storage.REPORTS, "ab" * 32, suffix=".json", data=b"{}")
    assert StorageFull.status_code == 507
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_upload_to_a_full_data_folder_is_a_507_with_its_error_and_stores_nothing(team, sample_upload,
                                                                                  monkeypatch):
    from django.test import Client

    from apps.accounts.services import token_issue
    from apps.datasets.models import Dataset

    def full(fd):
        raise OSError(28, "No space left on device")

    client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['mo']).key}")
    events_before = AuditEvent.objects.count()
    monkeypatch.setattr(storage.os, "fsync", full)
    response = client.post(f"/api/projects/{team['project'].pk}/datasets/", {"file": sample_upload()})
    assert response.status_code == 507
    assert response.json()["error"].startswith("The data folder is full: nothing was stored.")
    assert not Dataset.objects.exists() and AuditEvent.objects.count() == events_before
    assert [p for p in storage.root().rglob("*") if p.is_file()] == []
