"""Running a claimed job: load its inputs, call the engine, report back through the job services.

Celery tasks call `job_execute(job_id)` and nothing else. The engine never sees Django: it gets plain
lists and a `report(step, metrics, progress)` callback.
"""
import logging
import threading
import time
import traceback

from django.db import connection

from apps.core.request_context import reset_request_id, set_request_id
from apps.training import services
from apps.training.models import Job

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10
REPORT_EVERY_SECONDS = 1.0


class JobInputError(Exception):
    """The job's inputs do not allow it to run (the message says why); it fails without retry."""


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                services.job_heartbeat(job_id=self.job_id)
        finally:
            connection.close()


def _reporter(job_id: int):
    """A report callback that writes at most about once a second (always the final report)."""
    last = 0.0

    def report(step: int, metrics: dict, progress: float, message: str = "") -> None:
        nonlocal last
        now = time.monotonic()
        if progress < 1.0 and now - last < REPORT_EVERY_SECONDS:
            return
        last = now
        services.job_report(job_id=job_id, step=step, metrics=metrics, progress=progress, message=message)

    return report


def _run_baseline(job: Job, report):
    from apps.datasets.models import Dataset
    from workers.engine.baselines import run_baselines

    dataset = Dataset.objects.get(pk=job.params["dataset"])
    rows = dataset.read_rows()
    folds = job.params["folds"]
    _check_folds(dataset, folds)
    positive = job.play.deliverable.get("positive_label") or None
    if positive is not None and positive not in dataset.labels:
        positive = None
    result = run_baselines([r["text"] for r in rows], [r["label"] for r in rows], positive_label=positive,
                           folds=folds, seed=job.params["seed"], report=report)
    evidence = {"job": job.pk, "dataset": dataset.pk, "dataset_sha256": dataset.sha256, "results": result}
    return result, "baseline", evidence, []


def _check_folds(dataset, folds: int) -> None:
    smallest = min(dataset.label_counts.values())
    if folds > smallest:
        raise JobInputError(
            f"folds={folds} is more than the smallest class has rows ({smallest}): stratified "
            f"cross-validation needs every class in every fold. Use at most {smallest} folds."
        )


def _run_bakeoff(job: Job, report):
    from django.conf import settings

    from apps.datasets.models import Dataset
    from apps.training.models import Candidate
    from workers.engine.bakeoff import METRIC_DIRECTIONS, run_bakeoff

    dataset = Dataset.objects.get(pk=job.params["dataset"])
    _check_folds(dataset, job.params["folds"])
    candidates = {c.pk: c for c in Candidate.objects.filter(pk__in=job.params["candidates"])}
    play1 = job.play.cycle.plays.get(number=1).deliverable
    # The probe is scored on the committed metric when it is a quality metric; latency is measured anyway.
    metric = play1.get("metric") if play1.get("metric") in METRIC_DIRECTIONS else "macro_f1"
    positive = play1.get("positive_label") or None
    if positive not in dataset.labels:
        positive = None
    if metric == "false_positive_rate" and positive is None:
        metric = "macro_f1"
    rows = dataset.read_rows()
    result = run_bakeoff(
        [{"name": str(pk), "source": candidates[pk].source} for pk in job.params["candidates"]],
        [r["text"] for r in rows], [r["label"] for r in rows],
        cache_dir=settings.DATA_DIR / "artifacts" / "features", metric=metric, positive_label=positive,
        folds=job.params["folds"], seed=job.params["seed"], max_length=job.params["max_length"], report=report,
    )
    result["candidate_names"] = {str(pk): c.name for pk, c in candidates.items()}
    evidence = {"job": job.pk, "dataset": dataset.pk, "dataset_sha256": dataset.sha256, "metric": metric,
                "rows": result["rows"], "folds": result["folds"], "device": result["device"],
                "ranking": [int(n) for n in result["ranking"]], "candidates": result["candidates"]}
    artifacts = [
        ("feature_cache", card["feature_cache"]["path"], card["feature_cache"]["sha256"], f"features of {candidates[int(n)].name}")
        for n, card in result["candidates"].items() if "feature_cache" in card
    ]
    return result, "bakeoff", evidence, artifacts


RUNNERS = {Job.Kind.BASELINE: _run_baseline, Job.Kind.BAKEOFF: _run_bakeoff}


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
    try:
        result, key, evidence, artifacts = RUNNERS[job.kind](job, _reporter(job_id))
    except services.JobCancelled:
        services.job_finish_unsuccessfully(job_id=job_id, error="Cancelled on request.", cancelled=True)
        return Job.Status.CANCELLED
    except JobInputError as exc:
        services.job_finish_unsuccessfully(job_id=job_id, error=str(exc))
        return Job.Status.FAILED
    except Exception as exc:  # the failure must be visible on the job, whatever it was
        log.exception("job %s failed", job_id)
        services.job_finish_unsuccessfully(
            job_id=job_id, error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}"
        )
        return Job.Status.FAILED
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
    services.job_succeed(job_id=job_id, result=result, evidence_key=key, evidence=evidence, artifacts=artifacts)
    return Job.Status.SUCCEEDED
