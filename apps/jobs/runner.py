"""Running a claimed job on a worker: claim it, beat its heart, hand the engine a report callback, run
the kind's runner, and finish the job through the services.

Celery tasks call `job_execute(job_id)` and nothing else. Runners live with the play that registered
their kind; the engine never sees Django.

The worker's writes to the database (progress, heartbeat, the final status) survive a database restart:
each is retried on a fresh connection with a growing pause, for at most PLAYBOOK_DB_RETRY_SECONDS; past
that the error propagates, and the heartbeat sweep fails the job where everyone can see it.
"""
import logging
import threading
import time
import traceback

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from apps.core import registry, storage
from apps.core.request_context import reset_request_id, set_request_id
from apps.jobs import services
from apps.jobs.kinds import JobInputError
from apps.jobs.models import Job

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10
REPORT_EVERY_SECONDS = 1.0


def with_db_retry(call, **kwargs):
    """``call(**kwargs)``, retried on a new connection while the database is unreachable (restarting, a
    dropped connection), with a pause that doubles up to 8 s, for at most PLAYBOOK_DB_RETRY_SECONDS in all.
    Only whole services are retried: each runs in its own transaction, so a retry never half-repeats one."""
    deadline = time.monotonic() + settings.PLAYBOOK_DB_RETRY_SECONDS
    pause = 0.25
    while True:
        try:
            return call(**kwargs)
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("database unreachable during %s (%s); retrying in %.2f s", call.__name__,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, pause)
            try:
                connection.close()  # the broken one; the next query opens a new connection
            except Exception:  # closing a dead connection may fail too; it is dropped either way
                pass
            time.sleep(pause)
            pause = min(pause * 2, 8.0)


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                try:
                    with_db_retry(services.job_heartbeat, job_id=self.job_id)
                except Exception:  # keep beating: one missed beat is not a dead worker
                    log.exception("job %s: heartbeat not written", self.job_id)
        finally:
            connection.close()


class Reporter:
    """The engine's report callback. Every metric point is kept; they are buffered and written, with the
    progress, at most about once a second, and always at progress 1.0, when a runner names a new stage
    (a message: the engine's per-step reports carry none) and when the run ends."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.points: list[tuple[int, dict]] = []
        self.progress = 0.0
        self.last = 0.0

    def __call__(self, step: int, metrics: dict, progress: float, message: str = "") -> None:
        self.points.append((step, metrics))
        self.progress = max(self.progress, progress)
        if progress >= 1.0 or message or time.monotonic() - self.last >= REPORT_EVERY_SECONDS:
            self.flush(message)

    def flush(self, message: str = "") -> None:
        points, self.points = self.points, []
        self.last = time.monotonic()
        with_db_retry(services.job_report, job_id=self.job_id, points=points, progress=self.progress,
                      message=message)


def job_execute(job_id: int, *, device: str = "cpu") -> str:
    """Claim and run one job; returns its final status (or 'skipped' when it was not claimable)."""
    # (Celery's Django fix-up closes stale database connections around every task.)
    token = set_request_id(f"job-{job_id}")  # every event this run writes names the job
    try:
        job = services.job_claim(job_id=job_id, device=device)
        if job is None:
            log.info("job %s not claimable (missing, already running or finished): skipped", job_id)
            return "skipped"
        return _run_claimed(job)
    finally:
        reset_request_id(token)


def _run_claimed(job: Job) -> str:
    job_id = job.pk
    heartbeat = _Heartbeat(job_id)
    heartbeat.start()
    reporter = Reporter(job_id)
    try:
        outcome = registry.job_kind(job.kind).run(job, reporter)
        reporter.flush()
    except services.JobCancelled:
        with_db_retry(services.job_finish_unsuccessfully, job_id=job_id, error="Cancelled on request.",
                      cancelled=True)
        return Job.Status.CANCELLED
    except JobInputError as exc:
        with_db_retry(services.job_finish_unsuccessfully, job_id=job_id, error=str(exc))
        return Job.Status.FAILED
    except Exception as exc:  # the failure must be visible on the job, whatever it was
        log.exception("job %s failed", job_id)
        if storage.is_no_space(exc):  # say what to do, not only what broke
            error = f"{storage.NO_SPACE_MESSAGE}\n\n{type(exc).__name__}: {exc}"
        else:
            error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}"
        with_db_retry(services.job_finish_unsuccessfully, job_id=job_id, error=error)
        return Job.Status.FAILED
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
    try:
        with_db_retry(services.job_succeed, job_id=job_id, outcome=outcome)
    except Exception as exc:  # recording the outcome failed (a full disk in record(), say): the job fails
        if isinstance(exc, (OperationalError, InterfaceError)):
            raise  # the database is gone for good: the heartbeat sweep fails the job
        log.exception("job %s: its outcome could not be recorded", job_id)
        error = (f"{storage.NO_SPACE_MESSAGE}\n\n{type(exc).__name__}: {exc}" if storage.is_no_space(exc)
                 else f"Its outcome could not be recorded: {type(exc).__name__}: {exc}")
        with_db_retry(services.job_finish_unsuccessfully, job_id=job_id, error=error)
        return Job.Status.FAILED
    return Job.Status.SUCCEEDED
