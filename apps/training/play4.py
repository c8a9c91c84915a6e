"""Play 4, freeze then unfreeze: a fresh head on the frozen base first; if that falls short of the target,
unfreeze top-down at a lower learning rate and stop when validation turns. Also the retrain job, which
fine-tunes from an approved checkpoint (a retrain cycle, Play 6's trigger)."""
from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat

from apps.core import storage
from apps.core.errors import FieldErrors, ValidationFailed
from apps.jobs.kinds import GPU, ArtifactFile, JobInputError, JobKind, JobOutcome
from apps.jobs.models import Artifact, Job
from apps.playbook.plays import (Check, PlayModule, float_param, int_param, optional_id, reject_unknown,
                                 stored_id)
from workers.engine.metrics import meets_target

TRAINING_KINDS = ("frozen_head", "unfreeze", "retrain")
FROZEN_KEYS = {"candidate", "split_set", "hidden", "lr", "epochs", "patience", "batch_size", "seed", "max_length",
               "pooling"}
UNFREEZE_KEYS = {"from_job", "head_lr", "lr_divisor", "layer_decay", "max_stages", "epochs_per_stage", "patience",
                 "batch_size", "seed", "max_length", "batching", "noise_se"}
# How unfreezing forms its batches: random (the default) or rows of similar length together (less padding,
# faster, but it cost about a point of macro-F1 in bench/RESULTS.md).
BATCHINGS = ("random", "bucketed")


@dataclass(frozen=True)
class Play4Outputs:
    """The approved checkpoint and what it was trained from."""

    checkpoint_job: int
    kind: str
    checkpoint_path: str
    checkpoint_sha256: str
    candidate: int | None
    split_set: int | None
    val: dict  # validation metrics of the run


def training_inputs(play) -> dict:
    """What Play 4 trains with: the base model Play 2 chose and the splits Play 3 sealed (this cycle's
    approvals, or inherited ones)."""
    from apps.playbook.selectors import cycle_inputs

    inputs = cycle_inputs(play.cycle)
    return {"candidate": inputs[2].candidate if 2 in inputs else None,
            "split_set": inputs[3].split_set if 3 in inputs else None}


def _training_inputs(play, params: dict) -> dict:
    from apps.datasets.models import SplitSet
    from apps.training.models import Candidate

    approved = training_inputs(play)
    candidate = params.get("candidate", approved.get("candidate"))
    split_set = params.get("split_set", approved.get("split_set"))
    if candidate is None or split_set is None:
        raise ValidationFailed("Play 4 trains the candidate Play 2 chose on the splits Play 3 sealed: "
                               "both gates must be approved first (or name the candidate and the split set in the job's settings).")
    if not Candidate.objects.filter(pk=candidate, project_id=play.cycle.project_id).exists():
        raise ValidationFailed(f"Candidate {candidate} is not a candidate of this project.")
    if not SplitSet.objects.filter(pk=split_set, dataset__project_id=play.cycle.project_id).exists():
        raise ValidationFailed(f"Split set {split_set} is not sealed splits of this project.")
    return {"candidate": int(candidate), "split_set": int(split_set)}


def _pooling(params: dict) -> str:
    pooling = params.get("pooling", "mean")
    if pooling not in ("mean", "cls"):
        raise ValidationFailed("Choose the pooling: mean or cls.", fields={"pooling": "Choose the pooling: mean or cls."})
    return pooling


def _batching_param(params: dict) -> str:
    value = params.get("batching", "random")
    if value not in BATCHINGS:
        raise ValidationFailed(f"Choose the batching: {', '.join(BATCHINGS)}.",
                               fields={"batching": f"Choose the batching: {', '.join(BATCHINGS)}."})
    return value


def _settings(checks: dict) -> dict:
    """Each setting's check run in turn ({name: callable}); every bad one is refused at once, named."""
    errors, out = FieldErrors(), {}
    for name, check in checks.items():
        with errors.on(name):
            out[name] = check()
    errors.raise_if_any()
    return out


def _frozen_head_params(play, params: dict) -> dict:
    reject_unknown(params, FROZEN_KEYS, "frozen_head")
    inputs = _training_inputs(play, params)
    settings = _settings({
        "hidden": lambda: None if params.get("hidden") is None else int_param(params, "hidden", 0, 8, 4096),
        "lr": lambda: float_param(params, "lr", 1e-3, 1e-6, 1.0),
        "epochs": lambda: int_param(params, "epochs", 50, 1, 1000),
        "patience": lambda: int_param(params, "patience", 5, 0, 100),
        "batch_size": lambda: int_param(params, "batch_size", 64, 1, 4096),
        "seed": lambda: int_param(params, "seed", 0, 0, 2**31 - 1),
        "max_length": lambda: int_param(params, "max_length", 128, 8, 512),
        "pooling": lambda: _pooling(params)})
    return {**inputs, **settings}


def _unfreeze_params(play, params: dict) -> dict:
    reject_unknown(params, UNFREEZE_KEYS, "unfreeze")
    frozen = Job.objects.filter(play=play, kind="frozen_head", status=Job.Status.SUCCEEDED)
    from_job = params.get("from_job", frozen.order_by("-finished_at").values_list("pk", flat=True).first())
    if from_job is None:
        raise ValidationFailed("Freeze first: unfreezing starts from a finished frozen-head job of this play.")
    if not frozen.filter(pk=from_job).exists():
        raise ValidationFailed(f"Job {from_job} is not a finished frozen-head job of this play.")
    settings = _settings({
        "head_lr": lambda: float_param(params, "head_lr", 1e-3, 1e-6, 1.0),
        # Defaults from bench/RESULTS.md ("Play 4 defaults on real data"): they gained +0.03 to +0.05
        # validation macro-F1 on the demo data and on man-page descriptions, where the old ones gained 0.
        "lr_divisor": lambda: float_param(params, "lr_divisor", 10.0, 10.0, 100.0),
        "layer_decay": lambda: float_param(params, "layer_decay", 0.8, 0.1, 1.0),
        "max_stages": lambda: (None if params.get("max_stages") is None
                               else int_param(params, "max_stages", 0, 1, 64)),
        "epochs_per_stage": lambda: int_param(params, "epochs_per_stage", 2, 1, 50),
        "patience": lambda: int_param(params, "patience", 1, 0, 10),
        # A stage is worse only when it trails the best by more than this many standard errors.
        "noise_se": lambda: float_param(params, "noise_se", 1.0, 0.0, 5.0),
        "batch_size": lambda: int_param(params, "batch_size", 16, 1, 1024),
        "seed": lambda: int_param(params, "seed", 0, 0, 2**31 - 1),
        "max_length": lambda: int_param(params, "max_length", 128, 8, 512),
        "batching": lambda: _batching_param(params)})
    return {"from_job": int(from_job), **settings}


def retrain_source(play) -> tuple[int | None, str]:
    """The checkpoint a retrain continues from by default, and where it comes from in words."""
    from apps.playbook.selectors import cycle_inputs, production_model

    production = production_model(play.cycle.project)
    if production is not None and production.checkpoint_job is not None:
        return production.checkpoint_job, f"the production checkpoint (deployment #{production.deployment})"
    inputs = cycle_inputs(play.cycle)
    if 4 in inputs:
        return inputs[4].checkpoint_job, "the checkpoint the newest Play 4 approval handed on"
    return None, ""


def _retrain_params(play, params: dict) -> dict:
    """Fine-tune from an earlier checkpoint of this project on the current sealed splits, with the recipe
    that checkpoint was trained with. The default is the production checkpoint (the model the project
    serves), else the checkpoint the newest Play 4 approval handed on."""
    reject_unknown(params, {"from_job", "split_set", "max_stages", "seed"}, "retrain")
    from_job = params.get("from_job", retrain_source(play)[0])
    if from_job is None:
        raise ValidationFailed("Retraining starts from a checkpoint a Play 4 gate approved; none exists yet "
                               "(or name the job to start from in the job's settings).")
    if not Job.objects.filter(pk=from_job, project_id=play.cycle.project_id, status=Job.Status.SUCCEEDED,
                              kind__in=TRAINING_KINDS).exists():
        raise ValidationFailed(f"Job {from_job} is not a finished training job of this project.")
    split_set = params.get("split_set", training_inputs(play).get("split_set"))
    if split_set is None:
        raise ValidationFailed("Play 3 must seal and approve the splits to retrain on (or name the split set in the "
                               "job's settings).")
    cleaned = {"from_job": int(from_job), "split_set": int(split_set),
               "seed": int_param(params, "seed", 0, 0, 2**31 - 1)}
    if params.get("max_stages") is not None:
        cleaned["max_stages"] = int_param(params, "max_stages", 1, 1, 64)
    return cleaned


# --- runners -----------------------------------------------------------------------------------------


def _committed(job, label_names) -> dict:
    """Play 1's committed metric and positive label, from the cycle's hand-offs (or the draft), as the
    engine selects and stops on them. A false-positive rate without a positive class among these labels
    falls back to macro-F1."""
    from apps.playbook.selectors import cycle_inputs

    inputs = cycle_inputs(job.play.cycle)
    if 1 in inputs:
        metric, positive = inputs[1].metric, inputs[1].positive_label or None
    else:
        d1 = job.play.cycle.plays.get(number=1).deliverable
        metric, positive = d1.get("metric") or "macro_f1", d1.get("positive_label") or None
    if positive not in label_names:
        positive = None
    if metric not in ("macro_f1", "accuracy", "false_positive_rate") or (
            metric == "false_positive_rate" and positive is None):
        metric = "macro_f1"
    return {"metric": metric, "positive_label": positive}


def _training_data(job, split_set_id: int):
    """Train and validation rows of the sealed splits: only those two are loaded, never the test split nor
    a retrain cycle's golden split (split_rows would refuse them to a training job anyway)."""
    from apps.datasets.curation import split_rows
    from apps.datasets.models import Split, SplitSet
    from workers.engine.data import Split as DataSplit
    from workers.engine.data import TrainingData

    split_set = SplitSet.objects.get(pk=split_set_id)
    splits = {s.name: s for s in split_set.splits.filter(name__in=(Split.Name.TRAIN, Split.Name.VAL))}
    rows = {name: split_rows(split, job=job, purpose=f"{job.kind} training") for name, split in splits.items()}
    labels = sorted({r["label"] for part in rows.values() for r in part})
    data = TrainingData(
        train=DataSplit([r["text"] for r in rows["train"]], [r["label"] for r in rows["train"]]),
        val=DataSplit([r["text"] for r in rows["val"]], [r["label"] for r in rows["val"]]),
        label_names=labels,
    )
    return data, splits


def _val_scores(data, predicted_ids, positive: str | None) -> dict:
    """Validation metrics of the run, including the false-positive rate when Play 1 named the positive
    class (``positive``, from _committed)."""
    from workers.engine.metrics import classification_metrics

    predicted = [data.label_names[i] for i in predicted_ids]
    scores = classification_metrics(list(data.val.labels), predicted, positive_label=positive)
    return {k: scores[k] for k in ("accuracy", "macro_f1", "false_positive_rate") if k in scores}


def _val_interval(data, predicted_ids, committed: dict, seed: int) -> dict:
    """A seeded 95% bootstrap interval on the run's validation value of the committed metric (over the
    validation rows, resampled within each class), stored with the run so the page never recomputes it."""
    from workers.engine.heads import validation_interval

    positive = committed["positive_label"]
    resamples = 2_000
    low, high = validation_interval(data.label_ids(data.val), predicted_ids, committed["metric"],
                                    positive_label=data.label_names.index(positive) if positive else None,
                                    resamples=resamples, seed=seed)
    return {"metric": committed["metric"], "low": low, "high": high, "level": 0.95, "resamples": resamples,
            "seed": seed}


def _checkpoint_artifact(path, sha256: str, label: str) -> ArtifactFile:
    """A checkpoint folder, registered by its manifest (whose sha256 is the checkpoint's), with the size
    of every file the manifest lists."""
    import json

    files = json.loads(open(path, encoding="utf-8").read()).get("files", {})
    total = sum(int(entry.get("bytes", 0)) for entry in files.values())
    return ArtifactFile("checkpoint", str(path), sha256, label, size_bytes=total or None)


def _record_run(summary: dict):
    def record(job):
        from apps.playbook.services import play_record_evidence

        play_record_evidence(actor="worker", play=job.play, key="runs", value={str(job.pk): summary}, merge=True)

    return record


def _run_frozen_head(job, report) -> JobOutcome:
    from apps.training.models import Candidate
    from workers.engine.encoders import load_encoder
    from workers.engine.features import cached_features
    from workers.engine.heads import train_frozen_head
    from workers.engine.unfreeze import save_frozen_head_checkpoint

    p = job.params
    candidate = Candidate.objects.get(pk=p["candidate"])
    data, splits = _training_data(job, p["split_set"])
    encoder = load_encoder(candidate.source)
    cache_dir = storage.features_dir()
    cached = {
        name: cached_features(encoder, list(part.texts), cache_dir=cache_dir, model_key=encoder.model_key,
                              split_key=splits[name].sha256, pooling=p["pooling"], max_length=p["max_length"])
        for name, part in (("train", data.train), ("val", data.val))
    }
    committed = _committed(job, data.label_names)
    positive = committed["positive_label"]
    head = train_frozen_head(cached["train"].tensor, data.label_ids(data.train), cached["val"].tensor,
                             data.label_ids(data.val), num_labels=len(data.label_names), hidden=p["hidden"],
                             lr=p["lr"], epochs=p["epochs"], patience=p["patience"], batch_size=p["batch_size"],
                             seed=p["seed"], report=lambda step, metrics, progress: report(step, metrics, progress),
                             metric=committed["metric"],
                             positive_label=data.label_names.index(positive) if positive else None)
    recipe = {"pooling": p["pooling"], "max_length": p["max_length"], "seed": p["seed"]}
    path, sha = save_frozen_head_checkpoint(encoder, head, data.label_names, recipe, storage.checkpoint_dir(job.pk))
    val_predicted = head.predict(cached["val"].tensor)
    summary = {
        "job": job.pk, "kind": job.kind, "candidate": candidate.pk, "split_set": p["split_set"],
        "best_epoch": head.best_epoch, "stopped_early": head.stopped_early,
        "metric": head.metric, "best_val_metric": head.best_val_metric, "solver": head.solver, "best_c": head.best_c,
        "val": _val_scores(data, val_predicted, positive),
        "val_interval": _val_interval(data, val_predicted, committed, p["seed"]),
        "checkpoint": {"path": storage.relative(path), "sha256": sha}, "device": encoder.device_description,
        "feature_cache_hits": {name: c.hit for name, c in cached.items()},
        "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "history": head.history, "label_names": data.label_names}
    artifacts = [_checkpoint_artifact(path, sha, "frozen-base head checkpoint")] + [
        ArtifactFile("feature_cache", str(c.path), c.sha256, f"{name} features") for name, c in cached.items()]
    return JobOutcome(result, artifacts, record=_record_run(summary))


def _run_unfreeze(job, report) -> JobOutcome:
    from workers.engine.unfreeze import load_checkpoint, predict_label_ids, progressive_unfreeze

    p = job.params
    source = Artifact.objects.get(job_id=p["from_job"], kind="checkpoint")
    frozen = Job.objects.get(pk=p["from_job"])
    data, splits = _training_data(job, frozen.params["split_set"])
    try:
        encoder, head, meta = load_checkpoint(storage.absolute(source.path), expected_sha256=source.sha256)
    except ValueError as exc:  # altered, missing or unlisted files; a checkpoint of an older format
        raise JobInputError(f"The frozen-head checkpoint cannot be used: {exc}") from exc
    if list(meta["label_names"]) != data.label_names:
        raise JobInputError("The frozen-head checkpoint was trained on another label set than these splits.")
    pooling, max_length = meta["recipe"].get("pooling", "mean"), p["max_length"]
    committed = _committed(job, data.label_names)
    outcome = progressive_unfreeze(
        encoder, head.state_dict(), data, head_lr=p["head_lr"], lr_divisor=p["lr_divisor"],
        layer_decay=p["layer_decay"], max_stages=p["max_stages"], epochs_per_stage=p["epochs_per_stage"],
        batch_size=p["batch_size"], max_length=max_length, patience=p["patience"], seed=p["seed"],
        report=report, checkpoint_dir=storage.checkpoint_dir(job.pk), pooling=pooling,
        batching=p.get("batching", "random"),  # params stored before the option existed get the default
        noise_se=p.get("noise_se", 1.0), **committed,
    )
    predicted = predict_label_ids(encoder, outcome.build_head(), list(data.val.texts), batch_size=64,
                                  max_length=max_length, pooling=pooling)
    summary = {
        "job": job.pk, "kind": job.kind, "candidate": frozen.params["candidate"], "split_set": frozen.params["split_set"],
        "from_job": frozen.pk, "best_stage": outcome.best_stage, "stopped_early": outcome.stopped_early,
        "stop_reason": outcome.stop_reason, "val": _val_scores(data, predicted, committed["positive_label"]),
        "val_interval": _val_interval(data, predicted, committed, p["seed"]),
        "metric": outcome.metric, "best_val_metric": outcome.best_val_metric,
        "checkpoint": {"path": storage.relative(outcome.checkpoint_path), "sha256": outcome.checkpoint_sha256},
        "device": encoder.device_description, "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "stages": outcome.stages, "label_names": data.label_names}
    artifacts = [_checkpoint_artifact(outcome.checkpoint_path, outcome.checkpoint_sha256, "unfreeze checkpoint")]
    return JobOutcome(result, artifacts, record=_record_run(summary))


def _run_retrain(job, report) -> JobOutcome:
    """Continue from an earlier checkpoint on the current sealed splits with the same recipe (a retrain
    cycle; stage 0 measures the old model, so a retrain that does not beat it keeps it)."""
    from workers.engine.unfreeze import load_checkpoint, predict_label_ids, retrain_from_checkpoint

    p = job.params
    source = Artifact.objects.get(job_id=p["from_job"], kind="checkpoint")
    data, splits = _training_data(job, p["split_set"])
    overrides = {"report": report, "checkpoint_dir": storage.checkpoint_dir(job.pk), "seed": p["seed"]}
    if "max_stages" in p:
        overrides["max_stages"] = p["max_stages"]
    try:
        outcome = retrain_from_checkpoint(storage.absolute(source.path), data, expected_sha256=source.sha256,
                                          **overrides)
    except ValueError as exc:  # a changed label set, a checkpoint that no longer matches its hash
        raise JobInputError(str(exc)) from exc
    encoder, head, meta = load_checkpoint(outcome.checkpoint_path, expected_sha256=outcome.checkpoint_sha256)
    pooling, max_length = meta["recipe"].get("pooling", "mean"), meta["recipe"].get("max_length", 128)
    predicted = predict_label_ids(encoder, head, list(data.val.texts), batch_size=64, max_length=max_length,
                                  pooling=pooling)
    committed = _committed(job, data.label_names)
    summary = {
        "job": job.pk, "kind": job.kind, "from_job": p["from_job"], "split_set": p["split_set"],
        "best_stage": outcome.best_stage, "stopped_early": outcome.stopped_early, "stop_reason": outcome.stop_reason,
        "val": _val_scores(data, predicted, committed["positive_label"]),
        "val_interval": _val_interval(data, predicted, committed, p["seed"]),
        "checkpoint": {"path": storage.relative(outcome.checkpoint_path), "sha256": outcome.checkpoint_sha256},
        "device": encoder.device_description, "splits": {name: s.sha256 for name, s in splits.items()},
    }
    result = {**summary, "stages": outcome.stages, "label_names": data.label_names}
    return JobOutcome(result, [_checkpoint_artifact(outcome.checkpoint_path, outcome.checkpoint_sha256,
                                                    "retrained checkpoint")], record=_record_run(summary))


class FreezeThenUnfreeze(PlayModule):
    """Play 4: a fresh head on the frozen base first; unfreeze top-down only if that falls short."""

    number = 4
    keys = ("checkpoint_job",)
    workspace_template = "training/_play4_workspace.html"
    evidence_template = "training/_play4_evidence.html"
    Outputs = Play4Outputs
    job_kinds = {
        "frozen_head": JobKind("frozen_head", "Frozen-base head", run=_run_frozen_head, clean=_frozen_head_params,
                               queue=GPU, charted=True),
        "unfreeze": JobKind("unfreeze", "Progressive unfreeze", run=_run_unfreeze, clean=_unfreeze_params,
                            queue=GPU, charted=True),
        "retrain": JobKind("retrain", "Retrain", run=_run_retrain, clean=_retrain_params, queue=GPU, charted=True),
    }

    def clean(self, play, updates: dict) -> dict:
        data = super().clean(play, updates)
        if "checkpoint_job" in data:
            job_id = optional_id(data["checkpoint_job"], "checkpoint_job")
            if job_id is not None and not Job.objects.filter(pk=job_id, play=play, kind__in=TRAINING_KINDS,
                                                             status=Job.Status.SUCCEEDED).exists():
                raise ValidationFailed("Choose a finished training job of this play as the checkpoint to submit.")
            if job_id is not None:
                self._verify(job_id)
            data["checkpoint_job"] = job_id
        return data

    @staticmethod
    def target(play) -> tuple[str | None, str | None, float | None]:
        """Play 1's committed metric, direction and target: its hand-off (inherited by a retrain cycle), or
        the draft before Play 1 is approved."""
        from apps.playbook.selectors import cycle_inputs

        inputs = cycle_inputs(play.cycle)
        if 1 in inputs:
            return inputs[1].metric, inputs[1].direction, inputs[1].target
        d1 = play.cycle.plays.get(number=1).deliverable
        target = d1.get("target")
        return d1.get("metric"), d1.get("direction"), float(target) if target not in (None, "") else None

    @staticmethod
    def _verify(job_id: int) -> None:
        """Check every file of the chosen checkpoint against its manifest when it is chosen (and again when
        the play is submitted, and whenever a job loads it); a page render only shows the stored hash."""
        from workers.engine.checkpoints import verify_checkpoint

        artifact = Artifact.objects.filter(job_id=job_id, kind="checkpoint").first()
        if artifact is None:
            raise ValidationFailed(f"Job {job_id} left no checkpoint.")
        try:
            verify_checkpoint(storage.absolute(artifact.path), artifact.sha256)
        except (OSError, ValueError) as exc:
            raise ValidationFailed(f"The checkpoint of job {job_id} is missing or altered, so it cannot be "
                                   f"submitted: {exc}") from None

    def verify(self, play) -> None:
        job_id, _, artifact = self._submitted(play)
        if artifact is not None:
            self._verify(job_id)

    def _submitted(self, play):
        runs = play.evidence.get("runs") or {}
        job_id = stored_id(play.deliverable.get("checkpoint_job"))
        run = runs.get(str(job_id)) if job_id else None
        artifact = Artifact.objects.filter(job_id=job_id, kind="checkpoint").first() if run else None
        return job_id, run, artifact

    def checks(self, play) -> list[Check]:
        runs = play.evidence.get("runs") or {}
        frozen_done = any(r.get("kind") == "frozen_head" for r in runs.values())
        # A retrain cycle continues from an approved checkpoint (whose own cycle froze first).
        retrained = any(r.get("kind") == "retrain" for r in runs.values())
        checks = [Check("frozen_first", "A fresh head was trained on the frozen base first", frozen_done or retrained,
                        "a retrain continues from an approved checkpoint" if retrained and not frozen_done else
                        "" if frozen_done else "Run the frozen-head job before anything else.")]
        job_id, run, artifact = self._submitted(play)
        # The hash was taken once, when the checkpoint was written; showing it reads no file (only a stat).
        # Its files are checked against it when it is chosen, when the play is submitted and when it is loaded.
        intact = bool(artifact) and storage.absolute(artifact.path).exists()
        checks.append(Check(
            "checkpoint", "The submitted checkpoint exists and matches its hash", intact,
            (f"job #{job_id} ({run['kind']}), sha256 {artifact.sha256[:16]}…, {filesizeformat(artifact.size_bytes)}"
             if intact else
             "Choose the job whose best checkpoint you submit." if not run else
             "The checkpoint file is missing or altered."),
            evidence={"job": job_id, "sha256": artifact.sha256 if artifact else None},
        ))
        metric, direction, target = self.target(play)
        if run and metric in (run.get("val") or {}) and target is not None:
            value = run["val"][metric]
            meets = value is not None and meets_target(value, target=target, direction=direction)
            unfreeze_tried = any(r.get("kind") == "unfreeze" for r in runs.values())
            interval = run.get("val_interval") or {}
            spread = (f" (95% interval {interval['low']:.3f}–{interval['high']:.3f})"
                      if interval.get("metric") == metric else "")
            checks.append(Check(
                "val_vs_target", "Validation metric against the Play 1 target", True,
                f"validation {metric} {value:.4f}{spread} vs target {target:g}: "
                + ("meets it." if meets else ("short of it." if unfreeze_tried else
                                               "short of it — unfreezing top-down may close the gap.")),
                blocking=False, evidence={"metric": metric, "value": value, "target": target, "meets": meets,
                                          "interval": [interval["low"], interval["high"]] if spread else None},
            ))
        return checks

    def outputs(self, play) -> Play4Outputs:
        job_id, run, artifact = self._submitted(play)
        return Play4Outputs(checkpoint_job=job_id, kind=run["kind"], checkpoint_path=artifact.path,
                            checkpoint_sha256=artifact.sha256, candidate=run.get("candidate"),
                            split_set=run.get("split_set"), val=run.get("val") or {})

    def workspace(self, request, play) -> dict:
        from apps.datasets.models import SplitSet
        from apps.training.models import Candidate

        approved = training_inputs(play)
        candidate = Candidate.objects.filter(pk=approved.get("candidate")).first()
        split_set = SplitSet.objects.filter(pk=approved.get("split_set")).first()
        from apps.training.curves import (METRIC_WORDS, metric_columns, overlay_curves, reference_lines,
                                          run_rows)

        metric, _, target = self.target(play)
        runs = run_rows([run for _, run in sorted((play.evidence.get("runs") or {}).items(),
                                                  key=lambda kv: int(kv[0]))], metric)
        retrain_job, retrain_words = retrain_source(play) if (play.cycle.trigger or {}).get("kind") == "retrain" \
            else (None, "")
        return {
            "inputs": {"candidate": candidate, "split_set": split_set,
                       "splits": list(split_set.splits.all()) if split_set else []},
            "runs": runs, "target_metric": metric, "target_metric_words": METRIC_WORDS.get(metric, metric),
            "metric_columns": metric_columns(metric),
            "overlay": overlay_curves([r["job"] for r in runs], metric),
            "chart_references": reference_lines(play, metric, target),
            "frozen_done": any(r["kind"] == "frozen_head" for r in runs),
            "retrain_from": {"job": retrain_job, "words": retrain_words} if retrain_job else None,
        }


PLAY = FreezeThenUnfreeze()
