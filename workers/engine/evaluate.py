"""Play 5's report: every model scored on the same held-out rows, the candidate against the reference.

Plain data in (each model's class probabilities on the test rows, the truth, the committed metric), one
JSON-ready dict out. The statistics live in workers.engine.evaluation; this module chooses the reference,
draws the bootstrap resamples once for every model, and assembles where the candidate fails, how it is
calibrated and whether it holds on the production sample. No Django here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.special import softmax

from workers.engine import evaluation as stats

CANDIDATE, BASELINE, FROZEN_HEAD, PRODUCTION = "candidate", "baseline", "frozen_head", "production"
LISTED = 50  # rows shown per list (regressions, improvements, confident errors); the counts are complete

RECOMMEND = {
    stats.BEATS: "The candidate beats the baseline by the committed margin: approving it is supported by "
                 "the evidence.",
    stats.BETTER: "The candidate is better than the baseline, but not by the margin committed in Play 1: "
                  "the article's advice is to ship the baseline.",
    stats.INDISTINGUISHABLE: "The candidate cannot be told apart from the baseline on this test set: the "
                             "article's advice is to ship the baseline.",
    stats.WORSE: "The candidate is worse than the baseline: ship the baseline.",
}
# In a retrain cycle the reference is the model in production: the alternative to the challenger is keeping it.
RECOMMEND_OVER_PRODUCTION = {
    stats.BEATS: "The challenger beats the model in production by the committed margin: approving it is "
                 "supported by the evidence.",
    stats.BETTER: "The challenger is better than the model in production, but not by the margin committed in "
                  "Play 1: weigh whether the change is worth it, or keep the model in production.",
    stats.INDISTINGUISHABLE: "The challenger cannot be told apart from the model in production on this test "
                             "set: keeping the model in production is the safer choice.",
    stats.WORSE: "The challenger is worse than the model in production: keep the model in production.",
}


@dataclass
class ModelScores:
    """One model's output on the test rows."""

    name: str
    kind: str  # candidate, baseline, frozen_head or production
    label: str  # how a person calls it
    probabilities: np.ndarray  # (n, k), columns in label_names order
    note: str = ""


@dataclass
class ProductionSample:
    """The candidate (and reference) on Play 3's production sample; ``labels`` None when unlabelled."""

    texts: list[str]
    candidate_logits: np.ndarray
    reference_probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None  # class ids, or None
    dataset: int | None = None


@dataclass
class Calibration:
    """The candidate's logits on the validation split (the temperature is fitted there) and on the test rows."""

    val_logits: np.ndarray
    val_labels: np.ndarray
    test_logits: np.ndarray


@dataclass
class ReportInputs:
    texts: list[str]
    y_true: np.ndarray  # class ids of the test rows
    label_names: list[str]
    models: list[ModelScores]
    metric: str
    direction: str
    margin: float
    positive: int | None = None
    calibration: Calibration | None = None
    production: ProductionSample | None = None
    columns: dict[str, list] = field(default_factory=dict)  # extra columns to slice by
    latency: dict | None = None
    resamples: int = 10_000
    seed: int = 0


def better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "higher" else a < b


def choose_reference(models: list[ModelScores], values: dict[str, float], direction: str) -> str:
    """The production model when there is one; otherwise the strongest baseline on the committed metric
    (the first listed on a tie)."""
    for model in models:
        if model.kind == PRODUCTION:
            return model.name
    best = None
    for model in models:
        if model.kind == BASELINE and not np.isnan(values[model.name]) and (
                best is None or better(values[model.name], values[best], direction)):
            best = model.name
    if best is None:
        raise ValueError("no baseline to compare the candidate with")
    return best


def bootstrap_models(y_true, predictions: dict[str, np.ndarray], *, reference: str, metric: str, num_labels: int,
                     positive: int | None, resamples: int, seed: int, chunk: int = 2_000,
                     keep: tuple[str, ...] = ()) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """Every model's metric with its interval, and its difference from ``reference`` with the paired
    interval, all from ONE set of stratified resamples of the rows (for two models listed reference first,
    the same draw as evaluation.paired_bootstrap with this seed). Returns the per-model figures and the
    resampled confusion matrices of the models in ``keep``."""
    y = np.asarray(y_true, dtype=np.int64)
    names = list(predictions)
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    kept: dict[str, list[np.ndarray]] = {name: [] for name in keep}
    for confusions in stats.resampled_confusions(y, [predictions[n] for n in names], num_labels=num_labels,
                                                 resamples=resamples, seed=seed, chunk=chunk):
        for j, name in enumerate(names):
            values[name].append(stats.metric_from_confusions(confusions[j], metric, positive))
            if name in kept:
                kept[name].append(confusions[j].astype(np.int32))
    boot = {name: np.concatenate(parts) for name, parts in values.items()}
    out = {}
    for name, pred in predictions.items():
        value = stats.metric_value(y, pred, metric, num_labels=num_labels, positive=positive)
        ref_value = stats.metric_value(y, predictions[reference], metric, num_labels=num_labels, positive=positive)
        out[name] = {"value": value, "ci": list(stats._percentile_ci(boot[name], 0.95)),
                     "delta": {"value": value - ref_value,
                               "ci": list(stats._percentile_ci(boot[name] - boot[reference], 0.95))}}
    return out, {name: np.concatenate(parts) for name, parts in kept.items()}


def _row(i: int, texts, y, label_names, ref_pred, cand_pred, cand_prob) -> dict:
    return {"row": int(i), "text": texts[i], "label": label_names[y[i]], "reference": label_names[ref_pred[i]],
            "candidate": label_names[cand_pred[i]], "confidence": float(cand_prob[i].max())}


def _calibration(cal: Calibration, probabilities: np.ndarray, y: np.ndarray) -> dict:
    temperature = stats.fit_temperature(cal.val_logits, cal.val_labels)
    after = stats.calibrated(cal.test_logits, temperature)

    def summary(p):
        return {"ece": stats.expected_calibration_error(p, y), "brier": stats.brier_score(p, y),
                "reliability": stats.reliability(p, y)}

    return {"temperature": temperature, "fitted_on": "validation", "val_rows": int(len(cal.val_labels)),
            "bins": 15, "before": summary(probabilities), "after": summary(after)}


def _production(sample: ProductionSample, test_pred: np.ndarray, inputs: ReportInputs, temperature: float,
                test_value: float) -> dict:
    k = len(inputs.label_names)
    probabilities = stats.calibrated(sample.candidate_logits, temperature)
    predicted = probabilities.argmax(axis=1)
    out = {"dataset": sample.dataset, "rows": int(len(sample.texts)), "labelled": sample.labels is not None,
           "temperature": temperature}
    test_mix = np.bincount(test_pred, minlength=k)
    prod_mix = np.bincount(predicted, minlength=k)
    out["predicted_mix"] = {"test": dict(zip(inputs.label_names, map(int, test_mix))),
                            "production": dict(zip(inputs.label_names, map(int, prod_mix)))}
    out["psi"] = stats.population_stability_index(test_mix, prod_mix)
    out["mean_confidence"] = float(probabilities.max(axis=1).mean())
    if sample.labels is not None:
        ref_pred = (sample.reference_probabilities.argmax(axis=1) if sample.reference_probabilities is not None
                    else predicted)
        paired = stats.paired_bootstrap(sample.labels, ref_pred, predicted, inputs.metric, num_labels=k,
                                        positive=inputs.positive, resamples=min(inputs.resamples, 2_000),
                                        seed=inputs.seed)
        out["measured"] = {**paired.as_dict(), "vs_test": paired.candidate - test_value}
    else:
        estimate = stats.confidence_based_estimate(probabilities)
        out["estimate"] = {**estimate, "metric": inputs.metric if inputs.metric in estimate else None,
                           "value": estimate.get(inputs.metric), "vs_test": (
                               estimate[inputs.metric] - test_value if inputs.metric in estimate else None),
                           "note": "An estimate from calibrated confidence (no labels): it assumes the "
                                   "probabilities stay calibrated on production data."}
    return out


def evaluation_report(inputs: ReportInputs) -> dict:
    """Score every model on the same rows and compare the candidate with the reference."""
    started = time.perf_counter()
    names = inputs.label_names
    k = len(names)
    y = np.asarray(inputs.y_true, dtype=np.int64)
    if len(y) == 0:
        raise ValueError("the test split has no rows")
    models = {m.name: m for m in inputs.models}
    candidates = [m for m in inputs.models if m.kind == CANDIDATE]
    if len(candidates) != 1:
        raise ValueError("exactly one candidate is evaluated")
    for model in inputs.models:
        if model.probabilities.shape != (len(y), k):
            raise ValueError(f"{model.name}: expected probabilities of shape {(len(y), k)}, "
                             f"got {model.probabilities.shape}")
    candidate = candidates[0].name
    predictions = {name: m.probabilities.argmax(axis=1).astype(np.int64) for name, m in models.items()}
    point = {name: stats.metric_value(y, pred, inputs.metric, num_labels=k, positive=inputs.positive)
             for name, pred in predictions.items()}
    reference = choose_reference(inputs.models, point, inputs.direction)
    figures, kept = bootstrap_models(y, predictions, reference=reference, metric=inputs.metric, num_labels=k,
                                     positive=inputs.positive, resamples=inputs.resamples, seed=inputs.seed,
                                     keep=(reference, candidate))
    cand_pred, ref_pred = predictions[candidate], predictions[reference]
    cand_prob = models[candidate].probabilities
    delta = figures[candidate]["delta"]
    verdict = stats.verdict(tuple(delta["ci"]), margin=inputs.margin, direction=inputs.direction)
    report = {
        "metric": inputs.metric, "direction": inputs.direction, "margin": inputs.margin,
        "positive_label": names[inputs.positive] if inputs.positive is not None else None,
        "label_names": names, "rows": int(len(y)), "resamples": inputs.resamples, "seed": inputs.seed,
        "candidate": candidate, "reference": reference, "reference_kind": models[reference].kind,
        "models": {},
    }
    for name, m in models.items():
        report["models"][name] = {
            "kind": m.kind, "label": m.label, "note": m.note, "value": figures[name]["value"],
            "ci": figures[name]["ci"], "vs_reference": figures[name]["delta"],
            "accuracy": stats.metric_value(y, predictions[name], "accuracy", num_labels=k),
            "macro_f1": stats.metric_value(y, predictions[name], "macro_f1", num_labels=k),
        }
    mcnemar = stats.mcnemar(y, ref_pred, cand_pred) if inputs.metric in ("accuracy", "false_positive_rate") else None
    report["delta"] = {"value": delta["value"], "ci": delta["ci"], "verdict": verdict,
                       "beats_margin": verdict == stats.BEATS, "mcnemar": mcnemar,
                       "recommendation": (RECOMMEND_OVER_PRODUCTION if models[reference].kind == PRODUCTION
                                          else RECOMMEND)[verdict]}
    report["per_class"] = stats.per_class(y, ref_pred, cand_pred, label_names=names, resamples=inputs.resamples,
                                          seed=inputs.seed, confusions=(kept[reference], kept[candidate]))
    whole = np.arange(len(y))[None, :]
    report["confusion"] = {"labels": names,
                           "candidate": stats._confusions(y, cand_pred, k, whole)[0].tolist(),
                           "reference": stats._confusions(y, ref_pred, k, whole)[0].tolist()}
    slices = {"text length": stats.length_quartiles(inputs.texts), **inputs.columns}
    report["slices"] = {column: stats.slice_report(values, y, ref_pred, cand_pred, inputs.metric, num_labels=k,
                                                   positive=inputs.positive, seed=inputs.seed)
                        for column, values in slices.items()}
    changed = stats.changed_rows(y, ref_pred, cand_pred)
    report["regressions_count"] = len(changed["regressions"])
    report["improvements_count"] = len(changed["improvements"])
    # The candidate's errors the reference got right, the most confident first.
    order = sorted(changed["regressions"], key=lambda i: -cand_prob[i].max())
    report["regressions"] = [_row(i, inputs.texts, y, names, ref_pred, cand_pred, cand_prob) for i in order[:LISTED]]
    order = sorted(changed["improvements"], key=lambda i: -cand_prob[i].max())
    report["improvements"] = [_row(i, inputs.texts, y, names, ref_pred, cand_pred, cand_prob)
                              for i in order[:LISTED]]
    report["confident_errors"] = [_row(i, inputs.texts, y, names, ref_pred, cand_pred, cand_prob)
                                  for i in stats.most_confident_errors(cand_prob, y, top=LISTED)]
    report["calibration"] = None
    temperature = 1.0
    if inputs.calibration is not None:
        report["calibration"] = _calibration(inputs.calibration, cand_prob, y)
        temperature = report["calibration"]["temperature"]
    report["production"] = None
    if inputs.production is not None and len(inputs.production.texts):
        report["production"] = _production(inputs.production, cand_pred, inputs, temperature,
                                           figures[candidate]["value"])
    report["latency"] = inputs.latency
    report["statistics_seconds"] = time.perf_counter() - started
    return report


def softmax_rows(logits) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64), axis=1)
