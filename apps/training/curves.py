"""What Play 4's page draws and lists besides the live chart: each run's settings in words, the validation
curves of every run (to overlay the ones the owner ticks), and the Play 1 lines on the validation axis."""
from apps.jobs.models import Job, MetricPoint
from apps.jobs.series import CAP, downsample

METRIC_WORDS = {"macro_f1": "macro-F1", "accuracy": "accuracy", "false_positive_rate": "false-positive rate"}
BATCHING_WORDS = {"random": "random batches", "bucketed": "batches of similar lengths"}


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def run_settings(kind: str, params: dict) -> list[str]:
    """A training job's settings in plain words, the ones that shape the run first; keys a job does not hold
    (params stored before an option existed) are left out."""
    p = params or {}
    words: list[str] = []
    if kind == "frozen_head":
        if p.get("hidden"):
            words += [f"head with {p['hidden']} hidden units", f"learning rate {_number(p.get('lr'))}",
                      f"up to {p.get('epochs')} epochs", f"patience {p.get('patience')} epochs"]
        else:
            words.append("linear head (logistic regression, strength chosen on validation)")
        if "batch_size" in p and p.get("hidden"):
            words.append(f"batches of {p['batch_size']}")
    elif kind == "unfreeze":
        stages = p.get("max_stages")
        words += [f"from frozen head #{p.get('from_job')}",
                  f"up to {stages} layer groups" if stages else "every layer group",
                  f"learning rate divided by {_number(p.get('lr_divisor'))}",
                  f"{p.get('epochs_per_stage')} epochs per stage",
                  f"patience {p.get('patience')} stages"]
        if "layer_decay" in p:
            words.append(f"layer decay {_number(p['layer_decay'])}")
        if "head_lr" in p:
            words.append(f"head learning rate {_number(p['head_lr'])}")
        if "batch_size" in p:
            words.append(f"batches of {p['batch_size']}"
                         + (f", {BATCHING_WORDS.get(p['batching'], p['batching'])}" if p.get("batching") else ""))
        if "noise_se" in p:
            words.append(f"worse only beyond {_number(p['noise_se'])} standard errors")
    elif kind == "retrain":
        words += [f"continues job #{p.get('from_job')}", f"on splits #{p.get('split_set')}"]
        if p.get("max_stages"):
            words.append(f"up to {p['max_stages']} layer groups")
    if "max_length" in p:
        words.append(f"texts cut at {p['max_length']} tokens")
    if p.get("pooling"):
        words.append(f"{p['pooling']} pooling")
    if "seed" in p:
        words.append(f"seed {p['seed']}")
    return words


def metric_columns(metric: str | None) -> list[tuple[str, str]]:
    """The runs table's validation columns, each once: accuracy and macro-F1, and the false-positive rate
    when it is the committed metric."""
    return [(key, words) for key, words in METRIC_WORDS.items() if key != "false_positive_rate" or key == metric]


def run_rows(runs: list[dict], metric: str | None) -> list[dict]:
    """The runs table's rows: each recorded run with its job's settings in words and one cell per metric
    column; the committed metric's cell carries its 95% interval (runs recorded before intervals existed
    have none)."""
    params = dict(Job.objects.filter(pk__in=[r["job"] for r in runs]).values_list("pk", "params"))
    rows = []
    for run in runs:
        val, interval = run.get("val") or {}, run.get("val_interval") or {}
        cells = [{"value": val.get(key),
                  "interval": interval if key == metric and interval.get("metric") == metric else None}
                 for key, _ in metric_columns(metric)]
        rows.append({**run, "settings": run_settings(run["kind"], params.get(run["job"], {})), "cells": cells,
                     "target_value": val.get(metric)})
    return rows


def overlay_curves(job_ids: list[int], metric: str | None) -> dict:
    """Every run's validation curve of the committed metric, by epoch (a frozen head) or stage (unfreezing):
    ``{"metric", "label", "runs": {job id: [[x, y], ...]}}``, each downsampled, in one query."""
    name = f"val_{metric or 'macro_f1'}"
    rows = (MetricPoint.objects.filter(job_id__in=job_ids, name__in=(name, "epoch", "stage"))
            .order_by("job_id", "step").values_list("job_id", "step", "name", "value"))
    by_job: dict[int, dict[int, dict[str, float]]] = {}
    for job_id, step, point_name, value in rows:
        by_job.setdefault(job_id, {}).setdefault(step, {})[point_name] = value
    curves = {}
    for job_id, steps in by_job.items():
        points = [(at.get("epoch", at.get("stage", step)), at[name]) for step, at in sorted(steps.items())
                  if name in at]
        curves[str(job_id)] = [[x, y] for x, y in downsample(points, CAP)]
    return {"metric": name, "label": f"validation {METRIC_WORDS.get(metric, metric or 'macro-F1')}",
            "runs": curves}


def reference_lines(play, metric: str | None, target: float | None) -> dict:
    """The horizontal lines drawn on the validation axis: Play 1's target and its best baseline, on the
    committed metric (the baseline from Play 1's hand-off, else its measured draft)."""
    from apps.core import registry
    from apps.playbook.selectors import cycle_inputs

    lines = []
    if target is not None:
        lines.append({"key": "target", "label": f"Play 1 target {target:g}", "value": target})
    inputs = cycle_inputs(play.cycle)
    if 1 in inputs:
        best, value = inputs[1].best_baseline, inputs[1].best_baseline_value
    else:
        summary = registry.play_module(1).baseline_summary(play.cycle.plays.get(number=1)) or {}
        best, value = summary.get("best"), summary.get("best_value")
    if value is not None:
        lines.append({"key": "baseline", "label": f"best baseline ({best}) {value:.3f}", "value": value})
    return {"metric": f"val_{metric}" if metric else None, "lines": lines}
