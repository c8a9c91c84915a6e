"""The job machinery: enqueue (people and the system), claim, report, finish, and the stale sweep.

A job is enqueued only after its row commits, by task name, so no service imports a task module. The
worker-side services are safe to call twice: a finished job is never claimed again, metric points are
upserts, and finishing an already finished job is a no-op.

Who may start a job is decided by the caller: a person working a play goes through the play's own guard
(apps.playbook.services.play_job_start); the system (beat, a gate approval) calls job_enqueue with no
person, and the audit trail records "system" as the actor.
"""
import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.services import audit_chain_lock, audit_record
from apps.core import registry, storage
from apps.core.errors import Conflict, ValidationFailed
from apps.jobs.kinds import JobOutcome
from apps.jobs.models import Artifact, Job, MetricPoint

WORKER = "worker"  # actor label for worker-side audit events
SYSTEM = "system"  # actor label for what the system starts on its own
TASKS = {"gpu": "workers.tasks.run_training_job", "default": "workers.tasks.run_light_job"}
log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a running job when someone asked to cancel it."""


def _subject_of(subject) -> tuple[str, str, object, object]:
    """(subject_type, subject_id, project, play) for a Play or any model with a project."""
    if subject._meta.label_lower == "playbook.play":
        return "", "", subject.cycle.project, subject
    return subject._meta.model_name, str(subject.pk), subject.project, None


def job_enqueue(kind: str, subject, params: dict | None = None, requested_by=None, *, play=None) -> Job:
    """Queue a job of a registered `kind` on `subject` (a play, or a project-level object such as a
    dataset). The kind's parameter check runs first; a second active job of the same kind on the same
    subject is refused. ``requested_by`` is the person, or None when the system starts it.

    For a project-level subject, ``play`` names the play whose page shows the job's progress (it does not
    move the play's state). Runs inside the caller's transaction when there is one (a play's guard has
    locked the play); the task is sent after commit."""
    params = params if params is not None else {}
    if not isinstance(params, dict):
        raise ValidationFailed("Send the job's settings (params) as an object of name → value.")
    spec = registry.job_kind(kind)
    subject_type, subject_id, project, subject_play = _subject_of(subject)
    play = subject_play or play
    if subject_type != ("" if spec.subject == "play" else spec.subject):
        raise ValidationFailed(f"{kind} jobs work on a {spec.subject}, not on a {subject_type or 'play'}.")
    with transaction.atomic():
        audit_chain_lock()  # before the row locks: see audit_chain_lock
        cleaned = spec.clean(subject, params)
        same_subject = ({"subject_type": subject_type, "subject_id": subject_id} if subject_type
                        else {"play": play, "subject_type": ""})
        active = Job.objects.select_for_update().filter(kind=kind, status__in=Job.ACTIVE, project=project,
                                                        **same_subject)
        if active.exists():
            raise Conflict(f"A {kind} job for this {spec.subject} is already queued or running.")
        job = Job.objects.create(project=project, play=play, kind=kind, subject_type=subject_type,
                                 subject_id=subject_id, queue=spec.queue, params=cleaned, created_by=requested_by)
        after = {"kind": kind, "params": cleaned, "play": play.pk if play else None, "queue": spec.queue}
        if subject_type:
            after["subject"] = f"{subject_type} {subject_id}"
        audit_record(actor=requested_by or SYSTEM, action="job.queued", project=project, obj=job, after=after)
        transaction.on_commit(lambda: _send(job.pk, job.queue))
    return job


def _send(job_id: int, queue: str, *, now=None) -> bool:
    """Hand the job's message to the broker, after its row committed, and count the send. A broker that
    is down or refuses is logged, never raised: the request that queued the job has succeeded, the job
    stays queued, and the queue sweep (jobs_resend_queued) sends it again later. Returns whether it went."""
    try:
        _publish(job_id, queue)
    except Exception:  # any broker error: the job is kept, and the sweep retries it
        log.exception("job %s: the broker refused its message; the queue sweep will send it again", job_id)
        return False
    Job.objects.filter(pk=job_id).update(send_count=F("send_count") + 1, sent_at=now or timezone.now())
    return True


def _celery_app():
    from celery import current_app

    return current_app


def _publish(job_id: int, queue: str) -> None:
    # A short, bounded retry: a page that queues a job while the broker is away answers within seconds.
    _celery_app().send_task(TASKS[queue], args=[job_id], queue=queue, retry=True,
                            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                                          "interval_max": 1.0})


def job_request_cancel(*, actor, job: Job) -> Job:
    """Ask a job to stop (the caller has checked that `actor` may). A queued job is cancelled at once; a
    running one stops at its next report."""
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see audit_chain_lock
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise Conflict(f"Job #{job.pk} has already {job.status}.")
        _cancel(actor=actor, job=job, reason="")
    return job


def jobs_cancel_unfinished(*, actor, jobs, reason: str) -> list[int]:
    """Inside the caller's transaction: ask every unfinished job in ``jobs`` (a queryset) to stop, each
    with its audit event (a retrain closing a cycle stops the system's own work on it). Returns their ids."""
    cancelled = []
    for job in jobs.select_for_update().filter(status__in=Job.ACTIVE):
        _cancel(actor=actor, job=job, reason=reason)
        cancelled.append(job.pk)
    return cancelled


def _cancel(*, actor, job: Job, reason: str) -> None:
    before = {"status": job.status}
    if job.status == Job.Status.QUEUED:
        job.status, job.finished_at, job.message = Job.Status.CANCELLED, timezone.now(), "Cancelled before it started"
    job.cancel_requested = True
    job.save(update_fields=["status", "finished_at", "message", "cancel_requested"])
    audit_record(actor=actor, action="job.cancel_requested", project=job.project, obj=job,
                 before=before, after={"status": job.status, "cancel_requested": True,
                                       **({"reason": reason} if reason else {})})


# --- worker side ------------------------------------------------------------------------------------


def job_claim(*, job_id: int, device: str = "") -> Job | None:
    """Compare-and-set queued → running. Returns None if the job is gone or was already taken or finished,
    so a redelivered message does nothing."""
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see audit_chain_lock
        now = timezone.now()
        claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, worker_host=socket.gethostname()[:200],
            device=device[:200], message="Started",
        )
        if claimed != 1:
            return None
        job = Job.objects.select_related("project", "play__cycle__project").get(pk=job_id)
        audit_record(actor=WORKER, action="job.started", project=job.project, obj=job,
                     before={"status": Job.Status.QUEUED},
                     after={"status": Job.Status.RUNNING, "host": job.worker_host, "device": job.device})
    return job


def job_report(*, job_id: int, points: list[tuple[int, dict[str, float]]], progress: float, message: str = "",
               split: str = "train") -> None:
    """Upsert metric points ((step, {name: value}) each), move progress forward, beat the heart; raise
    JobCancelled if asked to stop. Progress reports are not audited (they are not state changes of the play)."""
    with transaction.atomic():
        for step, metrics in points:
            for name, value in metrics.items():
                if value is None or value != value:  # NaN is no point on a curve
                    continue
                MetricPoint.objects.update_or_create(
                    job_id=job_id, step=step, split=split, name=name[:64], defaults={"value": float(value)}
                )
        fields = {"heartbeat_at": timezone.now(), "progress": max(0.0, min(1.0, float(progress)))}
        if message:
            fields["message"] = message[:300]
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(**fields)
        if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
            raise JobCancelled(f"Job #{job_id} was cancelled")


def job_heartbeat(*, job_id: int) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())


def job_succeed(*, job_id: int, outcome: JobOutcome) -> bool:
    """Mark a running job succeeded and, in the same transaction, register its artifacts and let its play
    module record the evidence (outcome.record)."""
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see audit_chain_lock
        job = (Job.objects.select_for_update(of=("self",)).select_related("project", "play__cycle__project")
               .get(pk=job_id))
        if job.status != Job.Status.RUNNING:
            return False
        job.status, job.progress, job.result = Job.Status.SUCCEEDED, 1.0, outcome.result
        job.finished_at, job.message = timezone.now(), "Finished"
        job.save(update_fields=["status", "progress", "result", "finished_at", "message"])
        for artifact in outcome.artifacts:
            path = storage.absolute(artifact.path) if not os.path.isabs(artifact.path) else artifact.path
            size = artifact.size_bytes if artifact.size_bytes is not None else _size(path)
            Artifact.objects.get_or_create(job=job, kind=artifact.kind, sha256=artifact.sha256,
                                           defaults={"path": storage.relative(path), "size_bytes": size,
                                                     "label": artifact.label[:200]})
        audit_record(actor=WORKER, action="job.succeeded", project=job.project, obj=job,
                     before={"status": Job.Status.RUNNING},
                     after={"status": Job.Status.SUCCEEDED, "artifacts": {a.label: a.sha256 for a in outcome.artifacts}})
        if outcome.record is not None:
            outcome.record(job)
    return True


def _size(path) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)
    return os.path.getsize(path) if os.path.exists(path) else 0


def job_finish_unsuccessfully(*, job_id: int, error: str, cancelled: bool = False, actor: str = WORKER,
                              only_if: str = "", silent_since=None) -> bool:
    """Mark an unfinished job failed (or cancelled) with its error. The play is left exactly as it was;
    the job's own folders (a half-written checkpoint, report or package) are removed after commit.
    ``only_if`` (a status): do nothing unless the job, once locked, is still in it (a sweep's decision
    stands only if no worker claimed the job meanwhile). ``silent_since`` (a time): do nothing unless the
    job, once locked, is still running with no heartbeat since then (its worker did not beat meanwhile)."""
    status = Job.Status.CANCELLED if cancelled else Job.Status.FAILED
    with transaction.atomic(durable=True):
        audit_chain_lock()  # before the row lock: see audit_chain_lock
        job = Job.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.is_finished or (only_if and job.status != only_if):
            return False
        if silent_since is not None and not (job.status == Job.Status.RUNNING and job.heartbeat_at is not None
                                             and job.heartbeat_at < silent_since):
            return False
        before = {"status": job.status}
        job.status, job.error, job.finished_at = status, error[:10000], timezone.now()
        job.message = "Cancelled" if cancelled else "Failed"
        job.save(update_fields=["status", "error", "finished_at", "message"])
        audit_record(actor=actor, action=f"job.{status}", project=job.project, obj=job, before=before,
                     after={"status": status, "error": error[:500]})
        kind = registry.job_kinds().get(job.kind)
        if kind is not None and kind[1].on_failure is not None:
            kind[1].on_failure(job, error)
        transaction.on_commit(lambda: storage.remove_job_folders(job_id))
    return True


def jobs_fail_stale(*, now=None) -> list[int]:
    """Fail every running job whose worker stopped beating (it died); returns their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS)
    stale = list(Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True))
    failed = []
    for job_id in stale:
        if job_finish_unsuccessfully(job_id=job_id, silent_since=cutoff, error=(
                "The worker stopped reporting (no heartbeat for "
                f"{settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS} s): it probably died.")):
            failed.append(job_id)
    return failed


def _resend_delay(send_count: int) -> timedelta:
    """How long a queued job waits after its last send before it is sent again: the base interval, doubled
    with every resend (a worker busy with a long job is not flooded with copies)."""
    return timedelta(seconds=settings.PLAYBOOK_QUEUED_RESEND_SECONDS * 2 ** max(0, send_count - 1))


def jobs_resend_queued(*, now=None) -> dict[str, list[int]]:
    """The queue sweep: send again every job still queued a while after its last send (its message was
    lost, or the broker was away when it was queued), with a growing delay; fail, audited, a job that
    was sent 1 + PLAYBOOK_QUEUED_MAX_RESENDS times or has waited PLAYBOOK_QUEUED_MAX_AGE_SECONDS. So no
    job stays queued forever. While a job on the same queue runs (its heartbeat fresh), waiting is
    expected: nothing on that queue is resent or failed then, except past the max age. A copy delivered
    after all does nothing: the claim is a compare-and-set. Returns {"resent": [...], "failed": [...]}."""
    now = now or timezone.now()
    resent, failed = [], []
    max_age = timedelta(seconds=settings.PLAYBOOK_QUEUED_MAX_AGE_SECONDS)
    # A queue whose worker is busy with a live job (a training run of hours) is why a job waits there:
    # its jobs are neither resent nor failed for their send count then, only at the max age.
    alive = now - timedelta(seconds=settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS)
    busy = set(Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__gte=alive)
               .values_list("queue", flat=True))
    queued = Job.objects.filter(status=Job.Status.QUEUED).values_list("pk", "queue", "send_count", "sent_at",
                                                                       "created_at")
    for job_id, queue, send_count, sent_at, created_at in queued:
        too_old = now - created_at >= max_age
        if not too_old and (queue in busy or now - (sent_at or created_at) < _resend_delay(send_count)):
            continue
        if too_old or send_count >= 1 + settings.PLAYBOOK_QUEUED_MAX_RESENDS:
            why = (f"waited {int((now - created_at).total_seconds())} s" if too_old
                   else f"was sent {send_count} times")
            if job_finish_unsuccessfully(job_id=job_id, actor=SYSTEM, only_if=Job.Status.QUEUED, error=(
                    f"No worker picked this job up: it {why} and stayed queued. Check that a worker runs the "
                    f"'{queue}' queue, then start the job again.")):
                failed.append(job_id)
            continue
        # Conditional, so two sweeps at once (or a worker claiming it now) never both act on it.
        with transaction.atomic(durable=True):
            audit_chain_lock()  # before the row lock: see audit_chain_lock
            job = Job.objects.select_for_update(of=("self",)).select_related("project").filter(
                pk=job_id, status=Job.Status.QUEUED, send_count=send_count).first()
            if job is None:
                continue
            audit_record(actor=SYSTEM, action="job.resent", project=job.project, obj=job,
                         before={"send_count": send_count, "sent_at": sent_at},
                         after={"reason": "still queued after its last send" if send_count
                                else "the broker refused its first send"})
        if _send(job_id, queue, now=now):
            resent.append(job_id)
    return {"resent": resent, "failed": failed}
