"""Jobs: starting them (people), and claiming, reporting, finishing them (workers).

A job is enqueued only after its row commits. Worker-side services are safe to call twice: a finished job
is never claimed again, metric points are upserts, and finishing an already finished job is a no-op.
"""
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.playbook import policy
from apps.playbook.models import Play
from apps.playbook.policy import Action
from apps.playbook.services import play_record_evidence, play_work_begin
from apps.training.models import Artifact, Job, MetricPoint

# Which job kinds each play runs, and how to check their params before anything is queued.
PLAY_JOB_KINDS = {1: {Job.Kind.BASELINE}, 2: {Job.Kind.BAKEOFF},
                  4: {Job.Kind.FROZEN_HEAD, Job.Kind.UNFREEZE, Job.Kind.RETRAIN}}
WORKER = "worker"  # actor label for worker-side audit events


class JobCancelled(Exception):
    """Raised inside a running job when someone asked to cancel it."""


def _int_param(params: dict, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"params.{name} must be an integer")
    if not low <= value <= high:
        raise ValidationFailed(f"params.{name} must be between {low} and {high}")
    return value


def _baseline_params(play: Play, params: dict) -> dict:
    from apps.datasets.models import Dataset

    unknown = sorted(set(params) - {"dataset", "folds", "seed", "zero_shot"})
    if unknown:
        raise ValidationFailed(f"Unknown baseline param(s): {', '.join(unknown)} "
                               "(allowed: dataset, folds, seed, zero_shot)")
    zero_shot = params.get("zero_shot", True)
    if not isinstance(zero_shot, bool):
        raise ValidationFailed("params.zero_shot must be true or false")
    dataset_id = params.get("dataset", play.deliverable.get("baseline_dataset"))
    if dataset_id in (None, ""):
        raise ValidationFailed("Name the labelled sample: params.dataset, or baseline_dataset in the deliverable.")
    try:
        dataset_id = int(dataset_id)
    except (TypeError, ValueError):
        raise ValidationFailed("params.dataset must be a dataset id") from None
    if not Dataset.objects.filter(pk=dataset_id, project_id=play.cycle.project_id).exists():
        raise ValidationFailed(f"Dataset {dataset_id} is not a dataset of this project.")
    # The upper bound on folds is the smallest class's size, which only the job itself checks against
    # the data it loads; here only the shape is checked.
    return {"dataset": dataset_id, "folds": _int_param(params, "folds", 5, 2, 1000),
            "seed": _int_param(params, "seed", 0, 0, 2**31 - 1), "zero_shot": zero_shot}


def _play1_deliverable(play: Play) -> dict:
    first = play.cycle.plays.filter(number=1).first()
    return first.deliverable if first else {}


def _bakeoff_params(play: Play, params: dict) -> dict:
    """Defaults come from the play's approved inputs: the shortlist, and Play 1's labelled sample."""
    from apps.playbook.gates import _id_list
    from apps.training.models import Candidate

    allowed = {"candidates", "dataset", "folds", "seed", "max_length"}
    if unknown := sorted(set(params) - allowed):
        raise ValidationFailed(f"Unknown bakeoff param(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    ids = _id_list(params.get("candidates", play.deliverable.get("shortlist") or []), "params.candidates")
    if not 2 <= len(ids) <= 3:
        raise ValidationFailed("A bake-off compares two or three candidates: shortlist them first.")
    found = set(Candidate.objects.filter(project_id=play.cycle.project_id, pk__in=ids).values_list("pk", flat=True))
    if missing := [i for i in ids if i not in found]:
        raise ValidationFailed(f"Not candidates of this project: {', '.join(map(str, missing))}")
    dataset = params.get("dataset", _play1_deliverable(play).get("baseline_dataset"))
    checked = _baseline_params(play, {"dataset": dataset, **{k: params[k] for k in ("folds", "seed") if k in params}})
    checked.pop("zero_shot")
    return {**checked, "candidates": ids, "max_length": _int_param(params, "max_length", 128, 8, 512)}


def _float_param(params: dict, name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationFailed(f"params.{name} must be a number")
    if not low <= value <= high:
        raise ValidationFailed(f"params.{name} must be between {low:g} and {high:g}")
    return float(value)


def approved_inputs(play: Play) -> dict:
    """What Play 4 trains with: Play 2's chosen candidate and the splits Play 3's approval froze."""
    from apps.playbook.models import GateDecision

    found = {}
    for number, key in ((2, "candidate"), (3, "split_set")):
        decision = (GateDecision.objects.filter(play__cycle=play.cycle, play__number=number, decision="approve")
                    .order_by("-created_at").first())
        if decision is None:
            continue
        if number == 2:
            found[key] = decision.deliverable.get("chosen_candidate")
        else:
            sealed = next((c for c in decision.checks if c.get("key") == "splits_sealed"), {})
            found[key] = (sealed.get("evidence") or {}).get("split_set")
    return found


def _training_inputs(play: Play, params: dict) -> dict:
    from apps.datasets.models import SplitSet
    from apps.training.models import Candidate

    approved = approved_inputs(play)
    candidate = params.get("candidate", approved.get("candidate"))
    split_set = params.get("split_set", approved.get("split_set"))
    if candidate is None or split_set is None:
        raise ValidationFailed("Play 4 trains the candidate Play 2 chose on the splits Play 3 sealed: "
                               "both gates must be approved first (or name params.candidate and params.split_set).")
    if not Candidate.objects.filter(pk=candidate, project_id=play.cycle.project_id).exists():
        raise ValidationFailed(f"Candidate {candidate} is not a candidate of this project.")
    if not SplitSet.objects.filter(pk=split_set, dataset__project_id=play.cycle.project_id).exists():
        raise ValidationFailed(f"Split set {split_set} is not sealed splits of this project.")
    return {"candidate": int(candidate), "split_set": int(split_set)}


def _pooling(params: dict) -> str:
    pooling = params.get("pooling", "mean")
    if pooling not in ("mean", "cls"):
        raise ValidationFailed("params.pooling must be 'mean' or 'cls'")
    return pooling


FROZEN_KEYS = {"candidate", "split_set", "hidden", "lr", "epochs", "patience", "batch_size", "seed", "max_length",
               "pooling"}
UNFREEZE_KEYS = {"from_job", "head_lr", "lr_divisor", "layer_decay", "max_stages", "epochs_per_stage", "patience",
                 "batch_size", "seed", "max_length", "batching"}
# How unfreezing forms its batches: random (the default) or rows of similar length together (less padding,
# faster, but it cost about a point of macro-F1 in bench/RESULTS.md).
BATCHINGS = ("random", "bucketed")


def _unknown(params: dict, allowed: set, kind: str) -> None:
    if unknown := sorted(set(params) - allowed):
        raise ValidationFailed(f"Unknown {kind} param(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _frozen_head_params(play: Play, params: dict) -> dict:
    _unknown(params, FROZEN_KEYS, "frozen_head")
    hidden = params.get("hidden")
    if hidden is not None:
        hidden = _int_param(params, "hidden", 0, 8, 4096)
    return {**_training_inputs(play, params), "hidden": hidden,
            "lr": _float_param(params, "lr", 1e-3, 1e-6, 1.0), "epochs": _int_param(params, "epochs", 50, 1, 1000),
            "patience": _int_param(params, "patience", 5, 0, 100),
            "batch_size": _int_param(params, "batch_size", 64, 1, 4096), "seed": _int_param(params, "seed", 0, 0, 2**31 - 1),
            "max_length": _int_param(params, "max_length", 128, 8, 512), "pooling": _pooling(params)}


def _unfreeze_params(play: Play, params: dict) -> dict:
    _unknown(params, UNFREEZE_KEYS, "unfreeze")
    frozen = Job.objects.filter(play=play, kind=Job.Kind.FROZEN_HEAD, status=Job.Status.SUCCEEDED)
    from_job = params.get("from_job", frozen.order_by("-finished_at").values_list("pk", flat=True).first())
    if from_job is None:
        raise ValidationFailed("Freeze first: unfreezing starts from a finished frozen-head job of this play.")
    if not frozen.filter(pk=from_job).exists():
        raise ValidationFailed(f"Job {from_job} is not a finished frozen-head job of this play.")
    max_stages = params.get("max_stages")
    if max_stages is not None:
        max_stages = _int_param(params, "max_stages", 0, 1, 64)
    return {"from_job": int(from_job), "head_lr": _float_param(params, "head_lr", 1e-3, 1e-6, 1.0),
            "lr_divisor": _float_param(params, "lr_divisor", 30.0, 10.0, 100.0),
            "layer_decay": _float_param(params, "layer_decay", 0.8, 0.1, 1.0), "max_stages": max_stages,
            "epochs_per_stage": _int_param(params, "epochs_per_stage", 1, 1, 50),
            "patience": _int_param(params, "patience", 0, 0, 10),
            "batch_size": _int_param(params, "batch_size", 16, 1, 1024), "seed": _int_param(params, "seed", 0, 0, 2**31 - 1),
            "max_length": _int_param(params, "max_length", 128, 8, 512), "batching": _batching_param(params)}


def _batching_param(params: dict) -> str:
    value = params.get("batching", "random")
    if value not in BATCHINGS:
        raise ValidationFailed(f"params.batching must be one of: {', '.join(BATCHINGS)}")
    return value


def _retrain_params(play: Play, params: dict) -> dict:
    """Fine-tune from an earlier checkpoint of this project on the current sealed splits, with the recipe
    that checkpoint was trained with. The default is the newest checkpoint a Play 4 gate approved."""
    from apps.playbook.models import GateDecision

    _unknown(params, {"from_job", "split_set", "max_stages", "seed"}, "retrain")
    approved = [d.deliverable.get("checkpoint_job") for d in GateDecision.objects.filter(
        play__cycle__project_id=play.cycle.project_id, play__number=4, decision="approve").order_by("-created_at")]
    from_job = params.get("from_job", next((j for j in approved if j), None))
    if from_job is None:
        raise ValidationFailed("Retraining starts from a checkpoint a Play 4 gate approved; none exists yet "
                               "(or name params.from_job).")
    if not Job.objects.filter(pk=from_job, project_id=play.cycle.project_id, status=Job.Status.SUCCEEDED,
                              kind__in=[Job.Kind.FROZEN_HEAD, Job.Kind.UNFREEZE, Job.Kind.RETRAIN]).exists():
        raise ValidationFailed(f"Job {from_job} is not a finished training job of this project.")
    split_set = params.get("split_set", approved_inputs(play).get("split_set"))
    if split_set is None:
        raise ValidationFailed("Play 3 must seal and approve the splits to retrain on (or name params.split_set).")
    cleaned = {"from_job": int(from_job), "split_set": int(split_set),
               "seed": _int_param(params, "seed", 0, 0, 2**31 - 1)}
    if params.get("max_stages") is not None:
        cleaned["max_stages"] = _int_param(params, "max_stages", 1, 1, 64)
    return cleaned


PARAM_CHECKS = {Job.Kind.BASELINE: _baseline_params, Job.Kind.BAKEOFF: _bakeoff_params,
                Job.Kind.FROZEN_HEAD: _frozen_head_params, Job.Kind.UNFREEZE: _unfreeze_params,
                Job.Kind.RETRAIN: _retrain_params}


def job_start(*, actor, play: Play, kind: str, params: dict | None = None) -> Job:
    """Queue a job for a play its owner is working on; the play moves to in progress."""
    params = params if params is not None else {}
    if not isinstance(params, dict):
        raise ValidationFailed("params must be an object")
    if kind not in Job.Kind.values:
        raise ValidationFailed(f"kind must be one of: {', '.join(Job.Kind.values)}")
    with transaction.atomic(durable=True):
        play = Play.objects.select_for_update().select_related("cycle__project").get(pk=play.pk)
        play_work_begin(actor=actor, play=play)
        if kind not in PLAY_JOB_KINDS.get(play.number, set()):
            allowed = ", ".join(sorted(PLAY_JOB_KINDS.get(play.number, ()))) or "none yet"
            raise ValidationFailed(f"Play {play.number} does not run {kind} jobs (it runs: {allowed}).")
        if Job.objects.filter(play=play, kind=kind, status__in=Job.ACTIVE).exists():
            raise Conflict(f"A {kind} job for this play is already queued or running.")
        cleaned = PARAM_CHECKS[kind](play, params)
        job = Job.objects.create(project=play.cycle.project, play=play, kind=kind, params=cleaned, created_by=actor)
        audit_record(actor=actor, action="job.queued", project=job.project, obj=job,
                     after={"kind": kind, "params": cleaned, "play": play.pk})
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: Job) -> None:
    from workers import tasks

    task = tasks.run_training_job if job.queue == "gpu" else tasks.run_light_job
    task.apply_async(args=[job.pk], queue=job.queue)


def job_cancel(*, actor, job: Job) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next report."""
    project = job.project
    verdict = policy.check(actor, Action.JOB_CANCEL, project, play=job.play)
    if not verdict:
        raise NotAllowed(verdict.reason)
    with transaction.atomic(durable=True):
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise Conflict(f"Job #{job.pk} has already {job.status}.")
        before = {"status": job.status}
        if job.status == Job.Status.QUEUED:
            job.status, job.finished_at, job.message = Job.Status.CANCELLED, timezone.now(), "Cancelled before it started"
        job.cancel_requested = True
        job.save(update_fields=["status", "finished_at", "message", "cancel_requested"])
        audit_record(actor=actor, action="job.cancel_requested", project=project, obj=job,
                     before=before, after={"status": job.status, "cancel_requested": True})
    return job


# --- worker side ------------------------------------------------------------------------------------


def job_claim(*, job_id: int, device: str = "") -> Job | None:
    """Compare-and-set queued → running. Returns None if the job is gone or was already taken or finished,
    so a redelivered message does nothing."""
    with transaction.atomic(durable=True):
        now = timezone.now()
        claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, worker_host=socket.gethostname()[:200],
            device=device[:200], message="Started",
        )
        if claimed != 1:
            return None
        job = Job.objects.select_related("play__cycle__project").get(pk=job_id)
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


def job_succeed(*, job_id: int, result: dict, evidence_key: str | None = None, evidence: dict | None = None,
                artifacts: list[tuple[str, str, str, str]] = ()) -> bool:
    """Mark a running job succeeded and, in the same transaction, record its artifacts
    ((kind, path, sha256, label) each) and write its evidence into the play."""
    with transaction.atomic(durable=True):
        job = Job.objects.select_for_update().select_related("play__cycle__project").get(pk=job_id)
        if job.status != Job.Status.RUNNING:
            return False
        job.status, job.progress, job.result = Job.Status.SUCCEEDED, 1.0, result
        job.finished_at, job.message = timezone.now(), "Finished"
        job.save(update_fields=["status", "progress", "result", "finished_at", "message"])
        for kind, path, sha256, label in artifacts:
            size = os.path.getsize(path) if os.path.exists(path) else 0
            # Stored relative to the data folder, so the folder can move between hosts.
            stored = os.path.relpath(os.path.abspath(path), settings.DATA_DIR)
            Artifact.objects.get_or_create(job=job, kind=kind, sha256=sha256,
                                           defaults={"path": stored, "size_bytes": size, "label": label[:200]})
        audit_record(actor=WORKER, action="job.succeeded", project=job.project, obj=job,
                     before={"status": Job.Status.RUNNING},
                     after={"status": Job.Status.SUCCEEDED, "artifacts": {a[3]: a[2] for a in artifacts}})
        if evidence_key:
            play_record_evidence(actor=WORKER, play=job.play, key=evidence_key, value=evidence or {},
                                 merge=evidence_key == "runs")
    return True


def job_finish_unsuccessfully(*, job_id: int, error: str, cancelled: bool = False) -> bool:
    """Mark an unfinished job failed (or cancelled) with its error. The play is left exactly as it was."""
    status = Job.Status.CANCELLED if cancelled else Job.Status.FAILED
    with transaction.atomic(durable=True):
        job = Job.objects.select_for_update().select_related("project").get(pk=job_id)
        if job.is_finished:
            return False
        before = {"status": job.status}
        job.status, job.error, job.finished_at = status, error[:10000], timezone.now()
        job.message = "Cancelled" if cancelled else "Failed"
        job.save(update_fields=["status", "error", "finished_at", "message"])
        audit_record(actor=WORKER, action=f"job.{status}", project=job.project, obj=job, before=before,
                     after={"status": status, "error": error[:500]})
    return True


def jobs_fail_stale(*, now=None) -> list[int]:
    """Fail every running job whose worker stopped beating (it died); returns their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS)
    stale = list(Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True))
    failed = []
    for job_id in stale:
        if job_finish_unsuccessfully(job_id=job_id, error="The worker stopped reporting (no heartbeat for "
                                     f"{settings.PLAYBOOK_HEARTBEAT_STALE_SECONDS} s): it probably died."):
            failed.append(job_id)
    return failed
