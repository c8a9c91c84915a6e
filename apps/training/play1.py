"""Play 1, scope and baseline: the problem statement, the committed metric and margin, and measured
baselines (majority class, TF-IDF + logistic regression, a frozen encoder's zero-shot guess).

If the best baseline already meets the target, the gate can close the project by shipping it.
"""
from dataclasses import dataclass, field

from apps.core.encoders import zero_shot_source
from apps.core.errors import FieldErrors, ValidationFailed
from apps.core.storage import features_dir
from apps.jobs.kinds import DEFAULT, JobInputError, JobKind, JobOutcome
from apps.playbook.plays import Check, PlayModule, int_params, number_value, optional_id, stored_id
from apps.training.figures import figures, metric_figure, spread_words, target_comparison
from workers.engine.metrics import METRIC_NAMES, METRICS, meets_target


@dataclass(frozen=True)
class Play1Outputs:
    """What Play 1 hands on: the committed metric and the baseline every later play is judged against."""

    metric: str
    direction: str
    target: float
    min_margin: float
    positive_label: str
    baseline_dataset: int
    best_baseline: str
    best_baseline_value: float
    baselines: dict = field(default_factory=dict)  # name -> value on the committed metric (cross-validated)
    meets_target: bool = False


def check_folds(dataset, folds: int) -> None:
    smallest = min(dataset.label_counts.values())
    if folds > smallest:
        raise JobInputError(
            f"folds={folds} is more than the smallest class has rows ({smallest}): stratified "
            f"cross-validation needs every class in every fold. Use at most {smallest} folds."
        )


def labelled_sample_params(play, params: dict) -> dict:
    """The labelled sample (params.dataset, or Play 1's baseline_dataset), folds and seed."""
    from apps.datasets.models import Dataset

    dataset_id = params.get("dataset", play.deliverable.get("baseline_dataset"))
    errors, cleaned = FieldErrors(), {}
    with errors.on("dataset"):
        dataset_id = optional_id(dataset_id, "dataset")
        if dataset_id is None:
            raise ValidationFailed("Choose the labelled sample: pick a dataset for the job, or set Play 1's "
                                   "baseline dataset.")
        if not Dataset.objects.filter(pk=dataset_id, project_id=play.cycle.project_id).exists():
            raise ValidationFailed(f"Choose a dataset of this project (#{dataset_id} is not one of them).")
        cleaned["dataset"] = dataset_id
    # The upper bound on folds is the smallest class's size, which only the job itself checks against
    # the data it loads; here only the shape is checked.
    with errors.on("folds"):
        cleaned.update(int_params(params, {"folds": (5, 2, 1000), "seed": (0, 0, 2**31 - 1)}))
    errors.raise_if_any()
    return cleaned


def _baseline_params(play, params: dict) -> dict:
    unknown = sorted(set(params) - {"dataset", "folds", "seed", "zero_shot"})
    if unknown:
        raise ValidationFailed(f"A baseline job does not take the setting(s) {', '.join(unknown)}; "
                               "it takes: dataset, folds, seed and zero-shot.")
    zero_shot = params.get("zero_shot", True)
    if not isinstance(zero_shot, bool):
        raise ValidationFailed("Say whether to run the zero-shot baseline: true or false.",
                               fields={"zero_shot": "Say whether to run the zero-shot baseline: true or false."})
    return {**labelled_sample_params(play, params), "zero_shot": zero_shot}


def _run_baseline(job, report) -> JobOutcome:
    from apps.datasets.models import Dataset
    from apps.playbook.services import play_record_evidence
    from workers.engine.baselines import run_baselines

    dataset = Dataset.objects.get(pk=job.params["dataset"])
    rows = dataset.read_rows()
    folds = job.params["folds"]
    check_folds(dataset, folds)
    positive = job.play.deliverable.get("positive_label") or None
    if positive is not None and positive not in dataset.labels:
        positive = None
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    result = run_baselines(texts, labels, positive_label=positive, folds=folds, seed=job.params["seed"],
                           report=lambda step, metrics, progress: report(step, metrics, 0.7 * progress))
    if job.params.get("zero_shot", True) and (source := zero_shot_source()):
        result["baselines"]["zero_shot"] = _zero_shot(source, texts, labels, dataset.labels, positive, report,
                                                      folds=result["folds"], seed=result["seed"])
    evidence = {"job": job.pk, "dataset": dataset.pk, "dataset_sha256": dataset.sha256, "results": result}
    return JobOutcome(result, record=lambda job: play_record_evidence(
        actor="worker", play=job.play, key="baseline", value=evidence))


def _zero_shot(source: str, texts, labels, label_names, positive, report, *, folds: int, seed: int) -> dict:
    """Nearest label-name embedding with a frozen encoder, no adaptation: the cheapest pretrained floor.

    Nothing is trained, so every row is scored once; the spread is that of the same folds the other
    baselines are scored on, so the three are comparable."""
    from workers.engine.baselines import cv_splits
    from workers.engine.encoders import load_encoder
    from workers.engine.metrics import classification_metrics
    from workers.engine.spread import fold_scores, measure_latency
    from workers.engine.zeroshot import zero_shot_baseline

    encoder = load_encoder(source)
    scored = zero_shot_baseline(encoder, texts, labels, label_names, cache_dir=features_dir(),
                                report=lambda step, metrics, progress: report(1000 + step, metrics, 0.7 + 0.3 * progress))
    numbers = classification_metrics(list(labels), scored["predictions"], positive_label=positive)
    spread = fold_scores(list(labels), scored["predictions"], cv_splits(labels, folds, seed), positive_label=positive)
    latency = measure_latency(lambda text: encoder.encode([text]), list(texts[:8]))
    return {**{k: numbers[k] for k in ("accuracy", "macro_f1", "per_class", "confusion") if k in numbers},
            "false_positive_rate": numbers.get("false_positive_rate"), "folds_spread": spread, "latency": latency,
            "p50_latency_ms": latency["p50_latency_ms"], "p95_latency_ms": latency["p95_latency_ms"],
            "encoder": source}


class ScopeAndBaseline(PlayModule):
    number = 1
    keys = ("problem_statement", "metric", "direction", "target", "min_margin", "positive_label", "baseline_dataset")
    MIN_STATEMENT = 40
    upload_key = "baseline_dataset"  # a dataset uploaded on this play's page becomes its baseline sample
    workspace_template = "training/_play1_workspace.html"
    evidence_template = "training/_play1_evidence.html"
    button_labels = {"approve": "Approve: baseline insufficient — proceed to Play 2", "reject": "Reject",
                     "ship_baseline": "Ship the baseline and close the project"}
    Outputs = Play1Outputs
    job_kinds = {"baseline": JobKind("baseline", "Baseline", run=_run_baseline, clean=_baseline_params,
                                     queue=DEFAULT)}

    def clean(self, play, updates: dict) -> dict:
        data = super().clean(play, updates)
        merged = {**play.deliverable, **data}
        errors = FieldErrors()
        if "problem_statement" in data:
            text = str(data["problem_statement"] or "").strip()
            if len(text) > 5000:
                errors.add("problem_statement", f"Shorten the problem statement to 5,000 characters "
                                                f"(it has {len(text):,}).")
            data["problem_statement"] = text
        if "metric" in data and data["metric"] not in METRICS:
            errors.add("metric", f"Choose the metric from the list: {', '.join(METRIC_NAMES.get(m, m) for m in METRICS)}.")
        if "direction" in data and data["direction"] not in ("higher", "lower"):
            errors.add("direction", "Choose whether higher or lower values of the metric are better.")
        metric = merged.get("metric")
        metric_name = METRIC_NAMES.get(metric, "the metric")
        if metric in METRICS and merged.get("direction") in ("higher", "lower") and merged["direction"] != METRICS[metric]:
            errors.add("direction", f"{metric_name[0].upper()}{metric_name[1:]} is better when {METRICS[metric]}: "
                                    f"choose “{METRICS[metric]} is better”.")
        for name in ("target", "min_margin"):
            if name in data and data[name] not in (None, ""):
                with errors.on(name):
                    data[name] = number_value(data[name], name)
        ratio = metric in ("accuracy", "macro_f1", "false_positive_rate")
        target = data.get("target")
        if isinstance(target, float) and "target" not in errors.fields:
            if ratio and not 0 <= target <= 1:
                errors.add("target", f"Give the target for {metric_name} as a number between 0 and 1, "
                                     "e.g. 0.85 for 85%.")
            if not ratio and target <= 0:
                errors.add("target", "Give the target as a number above 0.")
        margin = data.get("min_margin")
        if isinstance(margin, float) and "min_margin" not in errors.fields:
            if margin < 0 or (ratio and margin > 1):
                errors.add("min_margin", "Give the minimum margin over the baseline as a number from 0"
                                         f"{' to 1, e.g. 0.02 for two points' if ratio else ' up, e.g. 0.02'}.")
        if "positive_label" in data:
            data["positive_label"] = str(data["positive_label"] or "").strip()
        if "baseline_dataset" in data:
            from apps.datasets.models import Dataset

            with errors.on("baseline_dataset"):
                dataset_id = optional_id(data["baseline_dataset"], "baseline_dataset")
                if dataset_id is not None and not Dataset.objects.filter(
                        pk=dataset_id, project_id=play.cycle.project_id).exists():
                    raise ValidationFailed(f"Choose the baseline dataset from this project's datasets "
                                           f"(#{dataset_id} is not one of them).")
                data["baseline_dataset"] = dataset_id
        errors.raise_if_any()
        return data

    def baseline_summary(self, play) -> dict | None:
        """The measured baseline on the deliverable's dataset, scored on the committed metric."""
        d = play.deliverable
        evidence = play.evidence.get("baseline")
        if not evidence or evidence.get("dataset") != stored_id(d.get("baseline_dataset")):
            return None
        metric, direction = d.get("metric"), d.get("direction")
        summary = {"job": evidence.get("job"), "dataset": evidence.get("dataset"),
                   "dataset_sha256": evidence.get("dataset_sha256"), "values": {}, "spreads": {}}
        for name, numbers in evidence.get("results", {}).get("baselines", {}).items():
            summary["values"][name] = numbers.get(metric) if metric else None
            summary["spreads"][name] = metric_figure(numbers, metric)["spread"] if metric else None
        candidates = {k: v for k, v in summary["values"].items() if v is not None}
        if metric in METRICS and direction and candidates and d.get("target") not in (None, ""):
            pick = max if direction == "higher" else min
            best = pick(candidates, key=candidates.get)
            summary.update(best=best, best_value=candidates[best], best_spread=summary["spreads"].get(best),
                           meets_target=meets_target(candidates[best], target=float(d["target"]), direction=direction),
                           target_noise=target_comparison(summary["spreads"].get(best), float(d["target"]), metric))
        return summary

    def checks(self, play) -> list[Check]:
        d = play.deliverable
        statement = d.get("problem_statement", "")
        checks = [
            Check("problem_statement", "Problem statement written", len(statement) >= self.MIN_STATEMENT,
                  "" if len(statement) >= self.MIN_STATEMENT
                  else f"Write at least {self.MIN_STATEMENT} characters: what the model must do and for whom."),
        ]
        metric_ok = (d.get("metric") in METRICS and d.get("direction") == METRICS.get(d.get("metric"))
                     and d.get("target") not in (None, "") and d.get("min_margin") not in (None, ""))
        checks.append(Check(
            "target_metric", "Target metric, direction, threshold and minimum margin committed", metric_ok,
            (f"{d.get('metric')} {'≥' if d.get('direction') == 'higher' else '≤'} {d.get('target')}, "
             f"worth it above baseline + {d.get('min_margin')}") if metric_ok
            else "Choose the metric, its threshold and the minimum worthwhile margin over baseline.",
        ))
        if d.get("metric") == "false_positive_rate":
            labels = self._dataset_labels(play)
            ok = bool(d.get("positive_label")) and (labels is None or d.get("positive_label") in labels)
            checks.append(Check("positive_label", "Positive class named for the false-positive rate", ok,
                                "" if ok else "Name the class whose false positives count; it must be a label "
                                "of the baseline sample."))
        summary = self.baseline_summary(play)
        measured = summary is not None and summary.get("best") is not None
        checks.append(Check(
            "baseline_measured", "Baseline measured on the labelled sample", measured,
            (f"best baseline {summary['best']} = {summary['best_value']:.4f} (job #{summary['job']}); "
             + (f"over folds {spread_words(summary['best_spread'])}" if summary.get("best_spread")
                else "no spread over folds recorded for this older job: re-run it to see one")
             if measured else "Upload the labelled sample, name it as baseline_dataset and run the baseline job."),
            evidence=summary or {},
        ))
        if measured:
            checks.append(Check(
                "baseline_vs_target", "Does the baseline already meet the target?", True,
                ("Yes — the project can close by shipping the baseline." if summary["meets_target"]
                 else "No — adaptation is warranted (Play 2).")
                + (f" {summary['target_noise']['words']}" if summary.get("target_noise") else ""),
                blocking=False, evidence={"meets_target": summary["meets_target"],
                                          "within_noise": (summary.get("target_noise") or {}).get("within_noise")},
            ))
        return checks

    def decisions(self, play) -> dict[str, str]:
        summary = self.baseline_summary(play)
        meets = bool(summary and summary.get("meets_target"))
        return {
            "approve": "" if not meets else "The baseline meets the target: Play 2's trigger "
                       "(baseline insufficient) does not hold. Ship the baseline or reject.",
            "ship_baseline": "" if meets else "The baseline falls short of the target: it cannot be shipped as is.",
            "reject": "",
        }

    def outputs(self, play) -> Play1Outputs:
        d, summary = play.deliverable, self.baseline_summary(play) or {}
        return Play1Outputs(
            metric=d["metric"], direction=d["direction"], target=float(d["target"]),
            min_margin=float(d["min_margin"]), positive_label=d.get("positive_label") or "",
            baseline_dataset=stored_id(d.get("baseline_dataset")), best_baseline=summary.get("best", ""),
            best_baseline_value=summary.get("best_value"), baselines=summary.get("values", {}),
            meets_target=bool(summary.get("meets_target")),
        )

    def workspace(self, request, play) -> dict:
        from apps.datasets.models import Dataset

        results = (play.evidence.get("baseline") or {}).get("results")
        rows = [{"name": name, **figures(numbers)} for name, numbers in ((results or {}).get("baselines") or {}).items()]
        return {
            "datasets": play.cycle.project.datasets.filter(kind=Dataset.Kind.BASELINE_SAMPLE),
            "metrics": METRICS,
            "baseline": self.baseline_summary(play),
            "baseline_results": results,
            "baseline_rows": rows,
            "baseline_rows_without_spread": [row["name"] for row in rows if not row["has_spread"]],
        }

    @staticmethod
    def _dataset_labels(play):
        from apps.datasets.models import Dataset

        dataset = Dataset.objects.filter(pk=stored_id(play.deliverable.get("baseline_dataset"))).first()
        return dataset.labels if dataset else None


PLAY = ScopeAndBaseline()
