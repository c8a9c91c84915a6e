"""Faults injected into real processes: a worker killed with SIGKILL in the middle of Play 4's progressive
unfreeze and of Play 5's evaluation, a private Redis restarted while a page queues a job and while one
runs, a private PostgreSQL cluster restarted while a worker reports progress, and a data folder that runs
out of space. Each ends with a job that finished visibly (succeeded or failed, never stuck), no partial
artifact or row, and an unchanged play.

Workers here pause after each job's first three progress reports (FAULTS_REPORT_PAUSE seconds each) so that
the fault lands in the middle of the work, not before or after it; the work itself is the real code path.
"""
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.accounts.services import token_issue
from apps.audit.models import AuditEvent
from apps.core.errors import StorageFull
from apps.datasets.models import Dataset
from apps.datasets.services import dataset_upload
from apps.jobs import services as job_services
from apps.jobs.models import Artifact, Job
from apps.jobs.runner import job_execute
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, play_job_start, play_update_deliverable
from demo.generate import generate
from tests.conftest import ROOT, _database_url_for
from tests.helpers import GOOD_DELIVERABLE, seal_now, submitted_play1, walk_past

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The server's own programs (initdb, pg_ctl), of the newest PostgreSQL installed (Debian's layout).
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/usr/bin"))

# A celery worker whose progress reports each end with a pause: the fault then lands mid-job.
LAUNCHER = """
import faulthandler, os, signal, sys, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stuck worker shows where it is
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from apps.jobs import services
pause, report, paused = float(os.environ["FAULTS_REPORT_PAUSE"]), services.job_report, []
def job_report(**kwargs):
    report(**kwargs)
    if paused.count(kwargs["job_id"]) < 3:  # the first three reports of each job
        paused.append(kwargs["job_id"])
        time.sleep(pause)
services.job_report = job_report
if sys.argv[1] == "run":  # run one job the way a task does, then print its final status
    from apps.jobs.runner import job_execute
    print("final status:", job_execute(int(sys.argv[2])), flush=True)
else:
    from celery.bin.celery import main
    sys.argv = ["celery", "-A", "config", "worker", *sys.argv[1:]]
    main()
"""


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"  # Play 1's zero-shot baseline loads a real encoder: not here
    if connection.vendor != "postgresql":
        pytest.fail("integration tests need PostgreSQL: run them with `python manage.py testsuite`")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(**overrides) -> dict:
    return {**os.environ, "DATABASE_URL": _database_url_for(connection.settings_dict),
            "PLAYBOOK_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1", "FAULTS_REPORT_PAUSE": "0.5",
            "PLAYBOOK_ZERO_SHOT_ENCODER": "none",
            **overrides}


def start_worker(log: Path, queues: str, **env):
    """A real `celery worker` (solo pool) on ``queues``, started and ready."""
    with open(log, "wb") as handle:
        worker = subprocess.Popen([sys.executable, "-c", LAUNCHER, "-Q", queues, "-P", "solo", "-l", "INFO",
                                   "-n", f"faults-{os.getpid()}-{time.monotonic_ns()}@%h", "--without-gossip",
                                   "--without-mingle", "--without-heartbeat"],
                                  cwd=ROOT, env=worker_env(**env), stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    return worker


def stop(process) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def wait_until(predicate, *, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s\n" + (
            log.read_text()[-3000:] if log else "")
        time.sleep(0.1)
    return found


def csv_upload(rows, name="tickets.csv"):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label"])
    writer.writeheader()
    writer.writerows({"text": r["text"], "label": r["label"]} for r in rows)
    return SimpleUploadedFile(name, out.getvalue().encode())


def baseline_play(team, *, rows: int):
    """Play 1 with a generated sample as its baseline dataset, ready to measure."""
    sample, _ = generate(seed=2, rows=rows, production_rows=10)
    dataset = dataset_upload(actor=team["mo"], project=team["project"], upload=csv_upload(sample))
    return play_update_deliverable(actor=team["mo"], play=team["play1"],
                                   deliverable={**GOOD_DELIVERABLE, "baseline_dataset": dataset.pk})


def queue_baseline(team, *, rows: int):
    """Play 1's baseline job, queued by the model owner (sent after commit)."""
    play = baseline_play(team, rows=rows)
    return play, play_job_start(actor=team["mo"], play=play, kind="baseline", params={"folds": 3})


def started_events(job) -> int:
    return AuditEvent.objects.filter(object_id=str(job.pk), action="job.started").count()


def sweep_as_if_later(seconds: float):
    return job_services.jobs_fail_stale(now=timezone.now() + timedelta(seconds=seconds))


# --- a worker killed with SIGKILL ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tests.unit.engine.conftest import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-faults"), layers=2, seed=0)


def kill_mid_job(job, tmp_path, *, reached, task: str = "workers.tasks.run_training_job"):
    """Send ``job`` to a worker of its own, SIGKILL the worker once ``reached()`` says the job is in the
    middle of its work, and let the stale-heartbeat sweep find it."""
    from config.celery import app

    queue = f"doomed-{os.getpid()}-{job.pk}"
    log = tmp_path / "worker.log"
    worker = start_worker(log, queue)
    try:
        app.send_task(task, args=[job.pk], queue=queue)
        wait_until(reached, timeout=120, what=f"job {job.pk} reaching the middle of its work", log=log)
        worker.send_signal(signal.SIGKILL)
    finally:
        stop(worker)
    job.refresh_from_db()
    assert job.status == "running", "the worker finished before it could be killed"
    assert sweep_as_if_later(settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS + 5) == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed" and "no heartbeat" in job.error
    assert not Artifact.objects.filter(job=job).exists()


def test_a_worker_killed_in_the_middle_of_a_progressive_unfreeze(team, sample_upload, monkeypatch, tiny_model,
                                                                 tmp_path):
    from apps.training.candidates import candidate_register

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play4 = walk_past(team, play1, (2, 3), monkeypatch)
    candidate = candidate_register(actor=team["mo"], project=team["project"], name="tiny", source=str(tiny_model),
                                   licence="MIT", domain_rating=2, latency_budget_ms=100, memory_budget_mb=100)
    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    split_set = seal_now(team["do"], dataset, train=0.6, val=0.2, test=0.2, seed=1)
    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)  # only the chosen worker runs it
    frozen = play_job_start(actor=team["mo"], play=play4, kind="frozen_head",
                            params={"candidate": candidate.pk, "split_set": split_set.pk, "epochs": 3})
    assert job_execute(frozen.pk) == "succeeded"
    play4.refresh_from_db()
    before = (play4.status, play4.evidence, play4.deliverable)
    params = {"from_job": frozen.pk, "max_stages": 1, "epochs_per_stage": 2, "batch_size": 8, "max_length": 32}
    doomed = play_job_start(actor=team["mo"], play=play4, kind="unfreeze", params=params)

    # Killed once a layer of the encoder is training (the first stage's loss is on record).
    kill_mid_job(doomed, tmp_path, reached=lambda: doomed.metrics.filter(name="stage").exists())
    assert not Path(settings.DATA_DIR, "artifacts", "checkpoints", f"job-{doomed.pk}").exists()
    play4.refresh_from_db()
    assert (play4.status, play4.evidence, play4.deliverable) == before
    again = play_job_start(actor=team["mo"], play=play4, kind="unfreeze", params=params)
    assert job_execute(again.pk) == "succeeded"
    assert Artifact.objects.filter(job=again, kind="checkpoint").count() == 1
    assert job_execute(doomed.pk) == "skipped" and started_events(doomed) == 1


def test_a_worker_killed_in_the_middle_of_an_evaluation(team, sample_upload, monkeypatch, tiny_model, tmp_path):
    from apps.evaluation.models import Evaluation
    from tests.unit.test_play5 import reach_play5

    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)
    reached = reach_play5(team, sample_upload, monkeypatch, tiny_model, rows=120)
    play5 = reached["play"]
    before = (play5.status, play5.evidence, play5.deliverable)
    doomed = Job.objects.get(play=play5, kind="evaluate")

    kill_mid_job(doomed, tmp_path, reached=lambda: Job.objects.filter(
        pk=doomed.pk, status="running", message__startswith="Scoring").exists())
    assert not Evaluation.objects.filter(job=doomed).exists()
    play5.refresh_from_db()
    assert (play5.status, play5.evidence, play5.deliverable) == before
    again = play_job_start(actor=team["so"], play=play5, kind="evaluate", params={})
    assert job_execute(again.pk) == "succeeded"
    assert Evaluation.objects.filter(job=again).count() == 1
    assert job_execute(doomed.pk) == "skipped" and started_events(doomed) == 1


# --- Redis restarted -------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own, on a free port, keeping nothing on disk (a restart loses every
    message, the worst case)."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.process = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--dir", str(self.folder), "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_until(lambda: self._pings(client), timeout=10, what="redis-server starting")

    @staticmethod
    def _pings(client) -> bool:
        import redis

        try:
            return client.ping()
        except redis.RedisError:
            return False

    def kill(self):
        self.process.kill()  # a crash, not a clean shutdown
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path, monkeypatch):
    from celery import Celery

    server = PrivateRedis(tmp_path)
    server.start()
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)  # celery reads it before its broker argument
    producer = Celery("faults-producer", broker=server.url, set_as_current=False)
    producer.conf.broker_connection_timeout = 2
    monkeypatch.setattr(job_services, "_celery_app", lambda: producer)  # pages send to the private broker
    yield server
    if server.process.poll() is None:
        server.kill()


def test_redis_restarted_while_a_page_queues_a_job_and_while_one_runs(team, private_redis, tmp_path, caplog):
    log = tmp_path / "worker.log"
    worker = start_worker(log, "default", CELERY_BROKER_URL=private_redis.url, FAULTS_REPORT_PAUSE="1")
    try:
        # The broker is down while a request queues the job: the request succeeds and the job is kept.
        play = baseline_play(team, rows=60)
        private_redis.kill()
        client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['mo']).key}")
        response = client.post("/api/jobs/", {"play": play.pk, "kind": "baseline", "params": {"folds": 3}},
                               content_type="application/json")
        assert response.status_code == 201, response.content
        job = Job.objects.get(pk=response.json()["id"])
        assert (job.status, job.send_count) == ("queued", 0)
        assert "the broker refused its message" in caplog.text
        private_redis.start()
        # Redis is back, empty: the sweep sends the job again and the worker, reconnected, runs it.
        later = job.created_at + timedelta(seconds=settings.PLAYBOOK_QUEUED_RESEND_SECONDS + 1)
        assert job_services.jobs_resend_queued(now=later)["resent"] == [job.pk]
        wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60, what="the resent job", log=log)
        job.refresh_from_db()
        assert job.status == "succeeded", job.error

        # Redis crashes while the next job runs: the job still finishes, once.
        second = play_job_start(actor=team["mo"], play=play, kind="baseline", params={"folds": 3})
        wait_until(lambda: Job.objects.filter(pk=second.pk, status="running").exists(), timeout=60,
                   what="the second job starting", log=log)
        private_redis.kill()
        assert not Job.objects.get(pk=second.pk).is_finished  # the broker died in the middle of the job
        private_redis.start()
        wait_until(lambda: Job.objects.get(pk=second.pk).is_finished, timeout=60, what="the second job", log=log)
        second.refresh_from_db()
        assert second.status == "succeeded", second.error
        # Later sweeps find nothing queued, and no job started twice.
        far = timezone.now() + timedelta(days=2)
        assert job_services.jobs_resend_queued(now=far) == {"resent": [], "failed": []}
        assert (started_events(job), started_events(second)) == (1, 1)
    finally:
        stop(worker)


# --- PostgreSQL restarted --------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb into a temporary folder, a free port)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data, self.port = self.folder / "data", free_port()

    def _as_postgres(self, *args):
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, capture_output=True,
                       timeout=60)

    def create(self):
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self):
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-w", "-o",
                          f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def restart(self):
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-m", "fast", "-w",
                          "restart")

    def remove(self):
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


def test_postgres_restarted_while_a_worker_reports_progress(team, tmp_path, monkeypatch):
    import psycopg

    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)
    _, job = queue_baseline(team, rows=100)
    server = PrivatePostgres()
    try:
        server.create()
        # The queued job and everything it needs, copied into the private cluster.
        name = connection.settings_dict["NAME"]
        shared = _database_url_for(connection.settings_dict)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", name], check=True)
        dump = subprocess.run(["pg_dump", "-Fc", shared], check=True, capture_output=True).stdout
        subprocess.run(["pg_restore", "--no-owner", "-d", server.url(name)], input=dump, check=True,
                       capture_output=True)

        def progress():
            with psycopg.connect(server.url(name), connect_timeout=2) as db:
                return db.execute("SELECT status, progress FROM training_job WHERE id = %s", [job.pk]).fetchone()

        log = tmp_path / "worker.log"
        with open(log, "wb") as handle:
            worker = subprocess.Popen([sys.executable, "-c", LAUNCHER, "run", str(job.pk)], cwd=ROOT,
                                      env=worker_env(DATABASE_URL=server.url(name), PLAYBOOK_DB_RETRY_SECONDS="60",
                                                     FAULTS_REPORT_PAUSE="2"),
                                      stdout=handle, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: progress()[1] > 0, timeout=60, what="a first progress report", log=log)
            server.restart()  # the worker's connection dies under it
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.send_signal(signal.SIGUSR1)
                time.sleep(1)
                pytest.fail(f"the worker did not finish:\n{log.read_text()[-4000:]}")
        finally:
            stop(worker)
        output = log.read_text()
        assert "database unreachable during" in output, output[-3000:]  # the restart hit a worker write
        assert "final status: succeeded" in output, output[-3000:]
        assert progress() == ("succeeded", 1.0)
    finally:
        server.remove()


# --- the data folder runs out of space -----------------------------------------------------------------


@pytest.fixture
def small_data_dir(settings):
    """A 4 MiB tmpfs as the data folder (the worker's and the pages')."""
    mount = Path(tempfile.mkdtemp(prefix="faults-data-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.fail(f"this test mounts a small tmpfs and needs root: {done.stderr.decode().strip()}")
    settings.DATA_DIR = mount
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)
    mount.rmdir()


def fill(folder: Path, *, leave: int) -> None:
    """Take all but ``leave`` bytes of the filesystem under ``folder``."""
    free = shutil.disk_usage(folder).free
    with open(folder / "ballast", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def stray_files(folder: Path) -> list[str]:
    """Temporary files (".incoming-", ".ingest-", ".append-", a checkpoint's ".tmp" folder) left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def test_a_full_data_folder_fails_the_job_and_refuses_the_upload_leaving_nothing_half_written(
        team, sample_upload, monkeypatch, tiny_model, small_data_dir):
    from apps.training.candidates import candidate_register

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play4 = walk_past(team, play1, (2, 3), monkeypatch)
    candidate = candidate_register(actor=team["mo"], project=team["project"], name="tiny", source=str(tiny_model),
                                   licence="MIT", domain_rating=2, latency_budget_ms=100, memory_budget_mb=100)
    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    split_set = seal_now(team["do"], dataset, train=0.6, val=0.2, test=0.2, seed=1)
    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)
    job = play_job_start(actor=team["mo"], play=play4, kind="frozen_head",
                         params={"candidate": candidate.pk, "split_set": split_set.pk, "epochs": 2})
    play4 = Play.objects.get(pk=play4.pk)
    before = (play4.status, play4.evidence)
    fill(small_data_dir, leave=64 * 1024)  # room for the features, not for the checkpoint

    assert job_execute(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("The data folder is full: nothing was stored."), job.error
    assert not Artifact.objects.filter(job=job).exists()
    assert not (small_data_dir / "artifacts" / "checkpoints" / f"job-{job.pk}").exists()
    assert stray_files(small_data_dir) == []
    play4.refresh_from_db()
    assert (play4.status, play4.evidence) == before

    datasets = Dataset.objects.count()
    sample, _ = generate(seed=4, rows=2000, production_rows=10)
    with pytest.raises(StorageFull, match="The data folder is full"):
        dataset_upload(actor=team["do"], project=team["project"], upload=csv_upload(sample, "big.csv"))
    assert Dataset.objects.count() == datasets and stray_files(small_data_dir) == []

    (small_data_dir / "ballast").unlink()  # space again: the same job kind succeeds
    again = play_job_start(actor=team["mo"], play=play4, kind="frozen_head",
                           params={"candidate": candidate.pk, "split_set": split_set.pk, "epochs": 2})
    assert job_execute(again.pk) == "succeeded"
