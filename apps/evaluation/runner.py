"""Worker side of Play 5: the evaluate job (the only reader of the sealed test split) and the sign-off
record job. Both gather plain data from the database and hand it to the engine (workers.engine.evaluate,
apps.evaluation.record); what they produce is written when the job succeeds."""
import json

import numpy as np

from apps.core import storage
from apps.core.errors import ValidationFailed
from apps.jobs.kinds import ArtifactFile, JobInputError, JobOutcome
from apps.jobs.models import Artifact, Job
from apps.playbook.plays import int_params, reject_unknown

EVALUATE_KEYS = {"resamples", "seed"}


def evaluate_params(play, params: dict) -> dict:
    """The evaluation needs Play 1's commitment, Play 3's sealed splits and Play 4's approved checkpoint."""
    from apps.playbook.selectors import cycle_inputs

    reject_unknown(params, EVALUATE_KEYS, "evaluate")
    inputs = cycle_inputs(play.cycle)
    missing = [f"Play {n}" for n in (1, 3, 4) if n not in inputs]
    if missing:
        raise ValidationFailed(f"The evaluation needs what {', '.join(missing)} hand(s) on: approve those gates first.")
    return int_params(params, {"resamples": (10_000, 1_000, 100_000), "seed": (0, 0, 2**31 - 1)})


def lineage(job_id: int | None) -> list[Job]:
    """The training job that produced a checkpoint and the jobs it continued from (unfreeze from a frozen
    head, a retrain from an earlier checkpoint), newest first."""
    chain, seen = [], set()
    while job_id is not None and job_id not in seen:
        seen.add(job_id)
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            break
        chain.append(job)
        job_id = (job.params or {}).get("from_job")
    return chain


def _committed(p1, label_names: list[str]) -> tuple[str, str, int | None]:
    metric, direction = p1.metric or "macro_f1", p1.direction or "higher"
    positive = label_names.index(p1.positive_label) if p1.positive_label in label_names else None
    if metric == "false_positive_rate" and positive is None:
        raise JobInputError("Play 1 committed to the false-positive rate of a class these splits do not have.")
    return metric, direction, positive


class _Checkpointed:
    """A checkpoint loaded for scoring: logits for any texts."""

    def __init__(self, path: str, sha256: str):
        from workers.engine.checkpoints import load_checkpoint

        try:
            self.encoder, self.head, self.meta = load_checkpoint(storage.absolute(path), expected_sha256=sha256)
        except (ValueError, OSError) as exc:
            raise JobInputError(f"The checkpoint {sha256[:12]}… cannot be used: {exc}") from exc
        self.label_names = list(self.meta["label_names"])
        recipe = self.meta.get("recipe", {})
        self.pooling, self.max_length = recipe.get("pooling", "mean"), recipe.get("max_length", 128)

    def logits(self, texts) -> np.ndarray:
        from workers.engine.unfreeze import predict_logits

        if not texts:
            return np.zeros((0, len(self.label_names)))
        return predict_logits(self.encoder, self.head, list(texts), batch_size=64, max_length=self.max_length,
                              pooling=self.pooling).float().cpu().numpy().astype(np.float64)


def _checkpoint_of(job: Job) -> Artifact | None:
    return Artifact.objects.filter(job=job, kind=Artifact.Kind.CHECKPOINT).first()


def run_evaluate(job, report) -> JobOutcome:
    from apps.datasets.curation import split_rows
    from apps.datasets.models import ResemblanceReport, SplitSet
    from apps.playbook.selectors import cycle_inputs
    from workers.engine import evaluate as engine
    from workers.engine.baselines import refit_and_predict
    from workers.engine.evaluation import latency_profile, metric_value

    inputs = cycle_inputs(job.play.cycle)
    p1, p3, p4 = inputs[1], inputs[3], inputs[4]
    if p4.split_set is not None and p4.split_set != p3.split_set:
        raise JobInputError(f"The candidate was trained on split set {p4.split_set}, but Play 3 handed on "
                            f"{p3.split_set}: train it again on the approved splits.")
    split_set = SplitSet.objects.get(pk=p3.split_set)
    splits = {s.name: s for s in split_set.splits.all()}
    report(0, {}, 0.02, "Loading the candidate")
    candidate = _Checkpointed(p4.checkpoint_path, p4.checkpoint_sha256)
    names = candidate.label_names
    train = split_rows(splits["train"], job=job, purpose="evaluate: refit the baselines")
    val = split_rows(splits["val"], job=job, purpose="evaluate: fit the temperature")
    test = split_rows(splits["test"], job=job, purpose="evaluate: score every model")
    if unknown := sorted({r["label"] for r in test} - set(names)):
        raise JobInputError(f"The test split has labels the candidate was not trained on: {', '.join(unknown)}")
    texts = [r["text"] for r in test]
    y = np.array([names.index(r["label"]) for r in test])
    metric, direction, positive = _committed(p1, names)

    report(1, {"test_rows": len(test)}, 0.1, "Scoring the candidate")
    cand_logits = candidate.logits(texts)
    models = [engine.ModelScores("candidate", engine.CANDIDATE, f"Candidate (job #{p4.checkpoint_job}, {p4.kind})",
                                 engine.softmax_rows(cand_logits))]
    # Each model as texts -> class probabilities: to time it, and to run the reference on the production sample.
    scorers = {"candidate": lambda batch: engine.softmax_rows(candidate.logits(batch))}
    chain = lineage(p4.checkpoint_job)
    frozen = next((j for j in chain if j.kind == "frozen_head"), None)
    if frozen is not None and frozen.pk != p4.checkpoint_job and (artifact := _checkpoint_of(frozen)):
        report(2, {}, 0.3, "Scoring the frozen-base head")
        model = _Checkpointed(artifact.path, artifact.sha256)
        if model.label_names == names:
            models.append(engine.ModelScores("frozen_head", engine.FROZEN_HEAD, f"Frozen-base head (job #{frozen.pk})",
                                             engine.softmax_rows(model.logits(texts)),
                                             note="Play 4's fresh head on the frozen base, before unfreezing."))
            scorers["frozen_head"] = lambda batch, m=model: engine.softmax_rows(m.logits(batch))

    report(3, {}, 0.4, "Refitting the baselines on the train split")
    val_rows = [r for r in val if r["label"] in names]
    fitted = refit_and_predict([r["text"] for r in train], [r["label"] for r in train], texts, names)
    labels = {"majority": "Majority class", "tfidf_logreg": "TF-IDF + logistic regression"}
    for name, out in fitted.items():
        models.append(engine.ModelScores(name, engine.BASELINE, labels[name], out["probabilities"],
                                         note="Play 1's baseline, refit on the sealed train split."))
        scorers[name] = lambda batch, f=out["predict"]: np.eye(len(names))[[names.index(p) for p in f(batch)]]
    if "zero_shot" in (p1.baselines or {}) and (zero_shot := _zero_shot(names)) is not None:
        models.append(engine.ModelScores("zero_shot", engine.BASELINE, "Frozen zero-shot (nearest label name)",
                                         zero_shot(texts), note="No training: each text gets the label whose "
                                                                "words embed closest."))
        scorers["zero_shot"] = zero_shot

    production_model = _production_model(job.project, inputs, names, texts)
    if production_model is not None:
        scores, scorer, source_job = production_model
        if frozen is not None and source_job == frozen.pk:  # the frozen head is what production serves
            models = [m for m in models if m.name != "frozen_head"]
            scorers.pop("frozen_head", None)
        models.append(scores)
        scorers["production"] = scorer

    report(4, {}, 0.6, "Scoring the production sample")
    production = None
    resemblance = ResemblanceReport.objects.filter(pk=p3.resemblance_report).select_related("production").first() \
        if getattr(p3, "resemblance_report", None) else None
    if resemblance is not None:
        rows = resemblance.production.read_rows()
        prod_texts = [r["text"] for r in rows]
        labelled = bool(rows) and all(r.get("label") in names for r in rows)
        production = engine.ProductionSample(prod_texts, candidate.logits(prod_texts),
                                             labels=np.array([names.index(r["label"]) for r in rows]) if labelled else None,
                                             dataset=resemblance.production_id)

    calibration = None
    if val_rows:
        calibration = engine.Calibration(candidate.logits([r["text"] for r in val_rows]),
                                         np.array([names.index(r["label"]) for r in val_rows]), cand_logits)

    point = {m.name: metric_value(y, m.probabilities.argmax(axis=1), metric, num_labels=len(names), positive=positive)
             for m in models}
    reference = engine.choose_reference(models, point, direction)
    if production is not None and production.labels is not None and production.texts:
        production.reference_probabilities = scorers[reference](production.texts)

    report(5, {}, 0.7, "Timing the candidate and the reference")
    latency = {}
    for name in ("candidate", reference):
        if name in scorers:
            latency[name] = latency_profile(scorers[name], texts[:400])

    columns, skipped = slice_columns(test)
    report(6, {}, 0.8, "Computing the statistics")
    result = engine.evaluation_report(engine.ReportInputs(
        texts=texts, y_true=y, label_names=names, models=models, metric=metric, direction=direction,
        margin=float(p1.min_margin or 0.0), positive=positive, calibration=calibration, production=production,
        latency=latency, columns=columns, resamples=job.params.get("resamples", 10_000), seed=job.params.get("seed", 0)))
    predictions_path, predictions_sha = _write_predictions(test, names, models)
    facts = {"checkpoint_job": p4.checkpoint_job, "checkpoint_sha256": p4.checkpoint_sha256,
             "split_set": split_set.pk, "test_split_sha256": splits["test"].sha256}
    result["slices_skipped"] = skipped
    if "golden" in splits:
        report(7, {}, 0.9, "Scoring every model on the golden set")
        result["golden"] = _golden_report(splits["golden"], job, models, scorers, names, metric, direction, positive,
                                          margin=float(p1.min_margin or 0.0))
        facts["golden_split_sha256"] = splits["golden"].sha256
    result["inputs"] = {**facts, "predictions_sha256": predictions_sha, "device": candidate.encoder.device_description}
    report(8, {"delta": result["delta"]["value"]}, 1.0, f"Verdict: {result['delta']['verdict']}")

    def record(job):
        from apps.evaluation.services import evaluation_record

        evaluation = evaluation_record(job=job, report=result, inputs=facts, predictions_sha256=predictions_sha)
        job.result = {**job.result, "evaluation": evaluation.pk}
        job.save(update_fields=["result"])

    summary = {"reference": result["reference"], "verdict": result["delta"]["verdict"], "delta": result["delta"],
               "models": {n: {"value": m["value"], "ci": m["ci"]} for n, m in result["models"].items()},
               "test_rows": len(test), "predictions_sha256": predictions_sha}
    return JobOutcome(summary, [ArtifactFile(Artifact.Kind.PREDICTIONS, predictions_path, predictions_sha,
                                             "per-example predictions on the test split")], record=record)


MAX_SLICE_VALUES = 20


def slice_columns(rows: list[dict]) -> tuple[dict[str, list], dict[str, str]]:
    """The dataset's extra columns (kept as each row's "meta" at upload) that the evaluation slices by:
    those with 2 to MAX_SLICE_VALUES distinct values. The others are named with the reason."""
    names = list(dict.fromkeys(name for r in rows for name in (r.get("meta") or {})))
    kept, skipped = {}, {}
    for name in names:
        values = [(r.get("meta") or {}).get(name, "(empty)") for r in rows]
        distinct = len(set(values))
        if 2 <= distinct <= MAX_SLICE_VALUES:
            kept[name] = values
        else:
            skipped[name] = (f"{distinct} distinct values: too many to slice by" if distinct > MAX_SLICE_VALUES
                             else "one value on every test row")
    return kept, skipped


def _zero_shot(names):
    """Play 1's frozen zero-shot baseline as texts -> label shares, or None when no encoder is available."""
    from apps.core.encoders import zero_shot_source
    from workers.engine.encoders import EncoderUnavailable, load_encoder
    from workers.engine.zeroshot import zero_shot_probabilities

    source = zero_shot_source()
    if source is None:
        return None
    try:
        encoder = load_encoder(source)
    except EncoderUnavailable:
        return None
    return lambda texts: zero_shot_probabilities(encoder, texts, names)


def _production_model(project, inputs, names, texts):
    """In a later cycle, the model in production (the deployment serving it; before any deployment, the
    model an earlier Play 5 shipped), scored on the same rows from its checkpoint."""
    from apps.playbook.selectors import production_model
    from workers.engine import evaluate as engine

    serving = production_model(project)
    if serving is not None and serving.checkpoint_sha256:
        source, note = serving, f"Deployment #{serving.deployment} serves it in production (package #{serving.package})."
    else:
        shipped = inputs.get(5)
        if serving is not None or shipped is None or shipped.shipped != "candidate" or not shipped.checkpoint_sha256:
            return None  # production serves a baseline: the refit baselines stand for it
        source, note = shipped, "The model an earlier cycle's Play 5 approved."
    model = _Checkpointed(source.checkpoint_path, source.checkpoint_sha256)
    if model.label_names != names:
        return None
    scores = engine.ModelScores("production", engine.PRODUCTION, f"In production (job #{source.checkpoint_job})",
                                engine.softmax_rows(model.logits(texts)), note=note)
    return scores, lambda batch: engine.softmax_rows(model.logits(batch)), source.checkpoint_job


GOLDEN_KEYS = ("rows", "metric", "direction", "margin", "label_names", "candidate", "reference", "reference_kind",
               "models", "delta", "per_class", "regressions_count", "improvements_count", "regressions")


def _golden_report(split, job, models, scorers, names, metric, direction, positive, *, margin: float) -> dict:
    """A retrain cycle's second test set: the previous cycle's test split, kept as a golden set beside the
    recent production slice. Every model is scored on it and the candidate compared with the same
    reference, so a challenger that wins on recent traffic but forgets the old is seen before approval."""
    from apps.datasets.curation import split_rows
    from workers.engine import evaluate as engine

    rows = [r for r in split_rows(split, job=job, purpose="evaluate: score every model on the golden set")
            if r["label"] in names]
    if not rows:
        return {"rows": 0, "note": "The golden set has no rows with labels the candidate knows."}
    texts = [r["text"] for r in rows]
    scored = []
    for model in models:
        if model.name not in scorers:
            continue
        scored.append(engine.ModelScores(model.name, model.kind, model.label, np.asarray(scorers[model.name](texts)),
                                         note=model.note))
    report = engine.evaluation_report(engine.ReportInputs(
        texts=texts, y_true=np.array([names.index(r["label"]) for r in rows]), label_names=names, models=scored,
        metric=metric, direction=direction, margin=margin, positive=positive,
        resamples=job.params.get("resamples", 10_000), seed=job.params.get("seed", 0)))
    golden = {key: report[key] for key in GOLDEN_KEYS}
    golden["split_sha256"] = split.sha256
    return golden


def _write_predictions(test_rows, names, models) -> tuple[str, str]:
    """Every model's label and class probabilities for every test row, as canonical JSON lines, stored
    under their sha256."""
    import hashlib

    lines = []
    for i, row in enumerate(test_rows):
        entry = {"row": i, "label": row["label"], "predictions": {
            m.name: {"label": names[int(m.probabilities[i].argmax())],
                     "probabilities": [round(float(p), 6) for p in m.probabilities[i]]} for m in models}}
        lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    path, _ = storage.write_content_addressed(storage.REPORTS, sha, suffix=".predictions.jsonl", data=data)
    return path, sha


# --- the sign-off record -------------------------------------------------------------------------------


def record_params(play, params: dict) -> dict:
    from apps.playbook.models import GateDecision

    reject_unknown(params, {"decision"}, "signoff_record")
    decision = params.get("decision")
    if not GateDecision.objects.filter(pk=decision, play=play).exists():
        raise ValidationFailed("Name a decision of this play's gate to write the sign-off record for.")
    return {"decision": int(decision)}


def run_signoff_record(job, report) -> JobOutcome:
    """Render the decided gate's sign-off record (self-contained HTML and its PDF) after checking that the
    predictions it names are intact."""
    import hashlib

    from apps.evaluation.models import Evaluation
    from apps.evaluation.record import record_html, record_pdf
    from apps.evaluation.selectors import report_in_order
    from apps.playbook.models import GateDecision

    decision = GateDecision.objects.select_related("decided_by", "play__cycle__project").get(pk=job.params["decision"])
    play = decision.play
    evaluation = Evaluation.objects.select_related("predictions").filter(
        pk=(decision.deliverable or {}).get("evaluation")).first()
    if evaluation is None:
        raise JobInputError("The decision names no evaluation.")
    if storage.file_sha256(storage.absolute(evaluation.predictions.path)) != evaluation.predictions.sha256:
        raise JobInputError("The evaluation's predictions file is missing or altered: the record is not written.")
    approvals = GateDecision.objects.filter(play=play, decision=decision.decision,
                                            created_at__lte=decision.created_at,
                                            created_at__gte=play.submitted_at).select_related("decided_by")
    answers = {k: (decision.deliverable or {}).get(k, "") for k in ("beat_baseline", "failures_acceptable",
                                                                      "holds_on_production")}
    meta = {"project": play.cycle.project.name, "cycle": play.cycle.number, "evaluation": evaluation.pk,
            "generated_at": job.started_at.isoformat() if job.started_at else "",
            "candidate_checkpoint_sha256": evaluation.checkpoint_sha256,
            "test_split_sha256": evaluation.test_split_sha256, "predictions_sha256": evaluation.predictions.sha256,
            "answers": answers,
            "decision": {"decision": decision.decision, "label": decision.get_decision_display(),
                         "reason": decision.reason, "decided_by": decision.decided_by.get_username(),
                         "decided_at": decision.created_at.isoformat()},
            "approvals": [{"by": a.decided_by.get_username(), "at": a.created_at.isoformat()} for a in approvals]}
    report(0, {}, 0.2, "Rendering the record")
    html = record_html(report_in_order(evaluation.report), meta).encode("utf-8")
    report(1, {}, 0.5, "Printing the PDF")
    pdf = record_pdf(html.decode("utf-8"))
    files = []
    for data, suffix, label in ((html, ".signoff.html", "sign-off record (HTML)"), (pdf, ".signoff.pdf",
                                                                                    "sign-off record (PDF)")):
        sha = hashlib.sha256(data).hexdigest()
        path, _ = storage.write_content_addressed(storage.REPORTS, sha, suffix=suffix, data=data)
        files.append(ArtifactFile(Artifact.Kind.SIGNOFF_RECORD, path, sha, label))
    report(2, {}, 1.0, "Record written")

    def record(job):
        from apps.evaluation.services import evaluation_attach_record

        evaluation_attach_record(job=job, evaluation_id=evaluation.pk, decision_id=decision.pk,
                                 html_sha256=files[0].sha256, pdf_sha256=files[1].sha256)

    return JobOutcome({"evaluation": evaluation.pk, "decision": decision.pk,
                       "html_sha256": files[0].sha256, "pdf_sha256": files[1].sha256}, files, record=record)
