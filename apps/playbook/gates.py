"""What each play's deliverable holds and which automatic checks its gate runs.

A spec validates deliverable updates (types and values: a draft may be partial) and computes the gate's
automatic checks from the deliverable and the evidence that jobs wrote. A play may be submitted only when
every blocking check passes; the sign-off owner then sees the same checks when deciding.
"""
from dataclasses import asdict, dataclass, field

from apps.core.errors import ValidationFailed
from workers.engine.metrics import METRICS, meets_target


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    passed: bool
    detail: str = ""
    blocking: bool = True
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class PlaySpec:
    number: int
    keys: tuple[str, ...] = ()

    def clean(self, play, updates: dict) -> dict:
        if not isinstance(updates, dict):
            raise ValidationFailed("deliverable must be an object of field → value")
        unknown = sorted(set(updates) - set(self.keys))
        if unknown:
            raise ValidationFailed(
                f"Unknown deliverable field(s) for Play {self.number}: {', '.join(unknown)}. "
                f"Allowed: {', '.join(self.keys)}."
            )
        return dict(updates)

    def checks(self, play) -> list[Check]:
        return [
            Check(
                "workspace",
                "This play's workspace and evidence",
                False,
                "The tools that produce this play's evidence are not available in this release yet.",
            )
        ]

    def decisions(self, play) -> dict[str, str]:
        """The decisions the gate offers now, each with a reason when it is unavailable ("" = available)."""
        return {"approve": "", "reject": ""}


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(str(value).strip())
        except ValueError:
            raise ValidationFailed(f"{name} must be a number, not {value!r}") from None
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationFailed(f"{name} must be a finite number")
    return value


class ScopeAndBaseline(PlaySpec):
    number = 1
    keys = ("problem_statement", "metric", "direction", "target", "min_margin", "positive_label", "baseline_dataset")
    MIN_STATEMENT = 40

    def clean(self, play, updates: dict) -> dict:
        data = super().clean(play, updates)
        merged = {**play.deliverable, **data}
        if "problem_statement" in data:
            text = str(data["problem_statement"] or "").strip()
            if len(text) > 5000:
                raise ValidationFailed("problem_statement is limited to 5,000 characters")
            data["problem_statement"] = text
        if "metric" in data and data["metric"] not in METRICS:
            raise ValidationFailed(f"metric must be one of: {', '.join(METRICS)}")
        if "direction" in data and data["direction"] not in ("higher", "lower"):
            raise ValidationFailed("direction must be 'higher' or 'lower'")
        metric = merged.get("metric")
        if metric in METRICS and merged.get("direction") and merged["direction"] != METRICS[metric]:
            raise ValidationFailed(
                f"{metric} is better when {METRICS[metric]}: direction must be '{METRICS[metric]}'"
            )
        for name in ("target", "min_margin"):
            if name in data and data[name] not in (None, ""):
                data[name] = _number(data[name], name)
        ratio = metric in ("accuracy", "macro_f1", "false_positive_rate")
        if merged.get("target") not in (None, "") and "target" in data:
            target = data["target"]
            if ratio and not 0 <= target <= 1:
                raise ValidationFailed(f"target for {metric} must be between 0 and 1 (e.g. 0.9 for 90%)")
            if not ratio and target <= 0:
                raise ValidationFailed("target must be positive")
        if "min_margin" in data and data["min_margin"] not in (None, ""):
            if data["min_margin"] < 0 or (ratio and data["min_margin"] > 1):
                raise ValidationFailed("min_margin must be between 0 and 1 for a ratio metric, and not negative")
        if "positive_label" in data:
            data["positive_label"] = str(data["positive_label"] or "").strip()
        if "baseline_dataset" in data and data["baseline_dataset"] not in (None, ""):
            from apps.datasets.models import Dataset

            try:
                dataset_id = int(data["baseline_dataset"])
            except (TypeError, ValueError):
                raise ValidationFailed("baseline_dataset must be a dataset id") from None
            if not Dataset.objects.filter(pk=dataset_id, project_id=play.cycle.project_id).exists():
                raise ValidationFailed(f"baseline_dataset {dataset_id} is not a dataset of this project")
            data["baseline_dataset"] = dataset_id
        return data

    def baseline_summary(self, play) -> dict | None:
        """The measured baseline on the deliverable's dataset, scored on the committed metric."""
        d = play.deliverable
        evidence = play.evidence.get("baseline")
        if not evidence or evidence.get("dataset") != d.get("baseline_dataset"):
            return None
        metric, direction = d.get("metric"), d.get("direction")
        summary = {"job": evidence.get("job"), "dataset": evidence.get("dataset"),
                   "dataset_sha256": evidence.get("dataset_sha256"), "values": {}}
        for name, numbers in evidence.get("results", {}).get("baselines", {}).items():
            summary["values"][name] = numbers.get(metric) if metric else None
        candidates = {k: v for k, v in summary["values"].items() if v is not None}
        if metric in METRICS and direction and candidates and d.get("target") not in (None, ""):
            pick = max if direction == "higher" else min
            best = pick(candidates, key=candidates.get)
            summary.update(best=best, best_value=candidates[best],
                           meets_target=meets_target(candidates[best], target=float(d["target"]), direction=direction))
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
            (f"best baseline {summary['best']} = {summary['best_value']:.4f} (job #{summary['job']})"
             if measured else "Upload the labelled sample, name it as baseline_dataset and run the baseline job."),
            evidence=summary or {},
        ))
        if measured:
            checks.append(Check(
                "baseline_vs_target", "Does the baseline already meet the target?", True,
                ("Yes — the project can close by shipping the baseline." if summary["meets_target"]
                 else "No — adaptation is warranted (Play 2)."),
                blocking=False, evidence={"meets_target": summary["meets_target"]},
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

    @staticmethod
    def _dataset_labels(play):
        from apps.datasets.models import Dataset

        dataset = Dataset.objects.filter(pk=play.deliverable.get("baseline_dataset")).first()
        return dataset.labels if dataset else None


def _id_list(value, name: str) -> list[int]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, (list, tuple)):
        raise ValidationFailed(f"{name} must be a list of ids")
    try:
        ids = [int(v) for v in value]
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a list of ids") from None
    if len(set(ids)) != len(ids):
        raise ValidationFailed(f"{name} lists a candidate twice")
    return ids


class ChooseBaseModel(PlaySpec):
    number = 2
    keys = ("shortlist", "chosen_candidate", "rationale")
    MIN_RATIONALE = 40

    def clean(self, play, updates: dict) -> dict:
        from apps.training.models import Candidate

        data = super().clean(play, updates)
        project_id = play.cycle.project_id
        if "shortlist" in data:
            ids = _id_list(data["shortlist"], "shortlist")
            if len(ids) > 3:
                raise ValidationFailed("Shortlist two or three candidates, not more.")
            known = set(Candidate.objects.filter(project_id=project_id, pk__in=ids).values_list("pk", flat=True))
            if missing := [i for i in ids if i not in known]:
                raise ValidationFailed(f"Not candidates of this project: {', '.join(map(str, missing))}")
            data["shortlist"] = ids
        if "chosen_candidate" in data and data["chosen_candidate"] not in (None, ""):
            try:
                chosen = int(data["chosen_candidate"])
            except (TypeError, ValueError):
                raise ValidationFailed("chosen_candidate must be a candidate id") from None
            if not Candidate.objects.filter(project_id=project_id, pk=chosen).exists():
                raise ValidationFailed(f"chosen_candidate {chosen} is not a candidate of this project")
            data["chosen_candidate"] = chosen
        if "rationale" in data:
            data["rationale"] = str(data["rationale"] or "").strip()[:5000]
        return data

    @staticmethod
    def scorecards(play) -> dict[int, dict]:
        """The bake-off's scorecards for the current shortlist, keyed by candidate id (empty if none match)."""
        evidence = play.evidence.get("bakeoff") or {}
        shortlist = play.deliverable.get("shortlist") or []
        cards = {int(k): v for k, v in (evidence.get("candidates") or {}).items()}
        return cards if shortlist and set(cards) == set(shortlist) else {}

    def checks(self, play) -> list[Check]:
        from apps.training.models import Candidate

        d = play.deliverable
        shortlist = d.get("shortlist") or []
        cards = self.scorecards(play)
        chosen_id = d.get("chosen_candidate")
        chosen = Candidate.objects.filter(pk=chosen_id, project_id=play.cycle.project_id).first() if chosen_id else None
        card = cards.get(chosen_id) if chosen_id else None
        evidence = play.evidence.get("bakeoff") or {}
        checks = [
            Check("shortlist", "Two or three candidates shortlisted", 2 <= len(shortlist) <= 3,
                  f"{len(shortlist)} shortlisted" if shortlist else "Shortlist two or three candidate base models."),
            Check("bakeoff", "Bake-off run on the shortlist (frozen features, linear probe)", bool(cards),
                  (f"job #{evidence.get('job')}: {len(cards)} candidates scored on {evidence.get('rows')} rows, "
                   f"{evidence.get('folds')}-fold" if cards else
                   "Run the bake-off job on the current shortlist (re-run it if the shortlist changed)."),
                  evidence={"job": evidence.get("job")} if cards else {}),
            Check("chosen", "A candidate chosen from the bake-off", bool(card and "error" not in card),
                  (f"{chosen.name}" if chosen and card and "error" not in card
                   else "Choose one of the shortlisted candidates that the bake-off scored.")),
            Check("licence", "The chosen model's licence permits this use", bool(chosen and chosen.licence_permits),
                  (f"{chosen.licence}: {'permits' if chosen.licence_permits else 'does NOT permit'} this project's use"
                   if chosen else "Choose a candidate first.")),
            Check("rationale", "Rationale written", len(d.get("rationale") or "") >= self.MIN_RATIONALE,
                  "" if len(d.get("rationale") or "") >= self.MIN_RATIONALE
                  else f"Explain the choice in at least {self.MIN_RATIONALE} characters."),
        ]
        if chosen and card and "error" not in card:
            latency_ok = card.get("p95_latency_ms", float("inf")) <= chosen.latency_budget_ms
            memory_mb = (card.get("peak_memory_bytes") or card.get("model_bytes") or 0) / 2**20
            memory_ok = memory_mb <= chosen.memory_budget_mb
            checks.append(Check(
                "budget", "Within its latency and memory budget on this worker", latency_ok and memory_ok,
                (f"p95 {card.get('p95_latency_ms', 0):.1f} ms vs {chosen.latency_budget_ms:g} ms budget; "
                 f"{memory_mb:.0f} MB vs {chosen.memory_budget_mb:g} MB budget"),
                blocking=False,
            ))
        return checks


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _stored_id(value) -> int | None:
    """A database id from a stored or submitted value: a positive whole number (or its digits as text);
    None for anything else (empty, junk, a bool, a fraction, a number too large for a key)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdecimal() or not value.isascii():
            return None
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def _ci(interval) -> str:
    lo, hi = interval or (None, None)
    return f"95% CI {_percent(lo)}–{_percent(hi)}"


def _audit_figures(results: dict) -> str:
    """The audit's headline numbers; any of them may be missing (no random item answered, say).
    Consistency comes from the uniform random part; the error-ranked part only says how well the ranking
    found errors."""
    from apps.datasets.selectors import audit_statistics

    f = audit_statistics(results)
    kappa, n = f["kappa"], f["random_n"]
    return (f"on the random part{'' if n is None else f' (n={n})'}: agreement {_percent(f['agreement'])} "
            f"({_ci(f['agreement_ci'])}), Cohen's kappa {'n/a' if kappa is None else f'{kappa:.3f}'}; estimated "
            f"label-error rate of the whole dataset {_percent(f['error_rate'])} ({_ci(f['error_rate_ci'])}); "
            f"error-ranked part: the auditor disagreed on {_percent(f['flagged_precision'])}"
            + ("" if f["flagged_n"] is None else f" of {f['flagged_n']}"))


class BuildDataPipeline(PlaySpec):
    """Play 3, the hard data gate: the article's four checklist items, each with automatic evidence and
    the data owner's written attestation."""

    number = 3
    keys = ("dataset", "audit", "balance_note", "representativeness_note", "leakage_justification")
    MIN_NOTE = 20

    def clean(self, play, updates: dict) -> dict:
        from apps.datasets.models import Dataset, LabelAudit

        data = super().clean(play, updates)
        project_id = play.cycle.project_id
        for key, model in (("dataset", Dataset), ("audit", LabelAudit)):
            if key not in data:
                continue
            value = data[key]
            if value is None or (isinstance(value, str) and not value.strip()):
                data[key] = None  # "—" in the form: nothing chosen
                continue
            data[key] = _stored_id(value)
            if data[key] is None:
                raise ValidationFailed(f"{key} must be an id, not {value!r}")
            owner = {"dataset": "project_id", "audit": "dataset__project_id"}[key]
            if not model.objects.filter(pk=data[key], **{owner: project_id}).exists():
                raise ValidationFailed(f"{key} {data[key]} does not belong to this project")
        for key in ("balance_note", "representativeness_note", "leakage_justification"):
            if key in data:
                data[key] = str(data[key] or "").strip()[:5000]
        return data

    @staticmethod
    def state(play) -> dict:
        """Everything the checks and the page need, read once. Whatever the deliverable holds (an empty or
        junk value stored before validation caught it, say) reads as "nothing chosen", never as an error."""
        from apps.datasets.models import Dataset, LabelAudit

        d = play.deliverable if isinstance(play.deliverable, dict) else {}
        dataset_id, audit_id = _stored_id(d.get("dataset")), _stored_id(d.get("audit"))
        dataset = (Dataset.objects.filter(pk=dataset_id, project_id=play.cycle.project_id).first()
                   if dataset_id else None)
        split_set = dataset.split_sets.order_by("-sealed_at").first() if dataset else None
        audit = (LabelAudit.objects.filter(pk=audit_id, dataset__project_id=play.cycle.project_id).first()
                 if audit_id else None)
        test = split_set.splits.filter(name="test").first() if split_set else None
        report = test.resemblance_reports.order_by("-created_at").first() if test else None
        return {"dataset": dataset, "split_set": split_set, "audit": audit, "report": report}

    @staticmethod
    def _note(d: dict, key: str) -> str:
        value = d.get(key)
        return value.strip() if isinstance(value, str) else ""

    def checks(self, play) -> list[Check]:
        from django.conf import settings

        d = play.deliverable if isinstance(play.deliverable, dict) else {}
        st = self.state(play)
        dataset, split_set, audit, report = st["dataset"], st["split_set"], st["audit"], st["report"]
        # 1. Labels consistent and audited by a second person on a sample.
        from apps.datasets.selectors import audit_statistics

        audit_ok, audit_detail, audit_evidence = False, "Start a label audit and have a second person finish it.", {}
        figures = audit_statistics(audit.results if audit else None)
        if audit and dataset:
            covers = audit.dataset_id in (dataset.pk, dataset.parent_id)
            pending = [i for i in audit.items.all() if i.answer and i.answer != i.original_label and not i.resolution]
            if not covers:
                audit_detail = "The audit is of another dataset version than the one submitted."
            elif audit.status in ("cancelled", "failed"):
                audit_detail = f"Audit #{audit.pk} was {audit.status}: start a new one and choose it."
            elif audit.status != "complete":
                answered = audit.items.exclude(answer="").count()
                audit_detail = f"The auditor has answered {answered} of {audit.size} items."
            elif pending:
                audit_detail = f"{len(pending)} disagreement(s) still to resolve."
            else:
                audit_ok = True
                audit_detail = f"{_audit_figures(audit.results)}, by {audit.auditor.get_username()}"
            audit_evidence = {"audit": audit.pk, "auditor": audit.auditor.get_username(), **figures}
        checks = [Check("labels_audited", "Labels are consistent and audited by a second person on a sample",
                        audit_ok, audit_detail, evidence=audit_evidence)]
        if audit_ok:
            agreement, kappa = figures["agreement"], figures["kappa"]
            consistent = (agreement is not None and agreement >= settings.PLAYBOOK_AUDIT_MIN_AGREEMENT
                          and kappa is not None and kappa >= settings.PLAYBOOK_AUDIT_MIN_KAPPA)
            n = figures["random_n"]
            checks.append(Check(
                "labels_consistent", "Auditor and labels agree well enough", consistent,
                (f"on the random part{'' if n is None else f' (n={n})'}, a uniform sample: agreement "
                 f"{_percent(agreement)} and kappa {'n/a' if kappa is None else f'{kappa:.2f}'} against "
                 f"{settings.PLAYBOOK_AUDIT_MIN_AGREEMENT:.0%} and {settings.PLAYBOOK_AUDIT_MIN_KAPPA:.2f}; "
                 f"estimated label-error rate {_percent(figures['error_rate'])} ({_ci(figures['error_rate_ci'])}). "
                 "The error-ranked part is left out: it is chosen for likely errors"
                 + ("" if consistent else ". The sign-off owner should weigh whether the labels can be trusted")),
                blocking=False,
                evidence={k: figures[k] for k in ("agreement", "agreement_ci", "kappa", "error_rate", "error_rate_ci",
                                                  "random_n")},
            ))
        # 2. Fixed splits, never mixed.
        if split_set:
            rate = split_set.leakage.get("rate") or 0.0
            justified = len(self._note(d, "leakage_justification")) >= self.MIN_NOTE
            ok = rate <= settings.PLAYBOOK_LEAKAGE_MAX_RATE or justified
            hashes = {s.name: {"rows": s.rows, "sha256": s.sha256} for s in split_set.splits.all()}
            sizes = ", ".join(f"{name} {info['rows']}" for name, info in sorted(hashes.items()))
            detail = (f"sealed {sizes}; leakage "
                      f"{rate:.2%} of val+test rows ({split_set.leakage.get('total_exact', 0)} exact, "
                      f"{split_set.leakage.get('total_near', 0)} near)"
                      + ("" if rate <= settings.PLAYBOOK_LEAKAGE_MAX_RATE else
                         (" — justified by the owner" if justified else
                          f" — above {settings.PLAYBOOK_LEAKAGE_MAX_RATE:.0%}: remove it or justify it")))
            checks.append(Check("splits_sealed", "Train, validation and test splits are fixed and never mixed", ok,
                                detail, evidence={"split_set": split_set.pk, "splits": hashes}))
        else:
            checks.append(Check("splits_sealed", "Train, validation and test splits are fixed and never mixed",
                                False, "Choose the dataset version and seal its splits."))
        # 3. The test set resembles production.
        note_ok = len(self._note(d, "representativeness_note")) >= self.MIN_NOTE
        checks.append(Check(
            "test_like_production", "The test set resembles real production inputs", bool(report) and note_ok,
            ("; ".join(report.stats.get("verdict", [])[:3]) or "compared") + ("" if note_ok else
             " — confirm the test set is representative, or explain, in the note.")
            if report else "Upload a production sample and compare it with the sealed test split.",
            evidence={"report": report.pk} if report else {},
        ))
        # 4. Class balance understood.
        balance_ok = bool(dataset) and len(self._note(d, "balance_note")) >= self.MIN_NOTE
        counts = dataset.label_counts if dataset else {}
        ratio = (max(counts.values()) / min(counts.values())) if counts else None
        checks.append(Check(
            "balance_understood", "Class balance is understood, even if not perfectly fixed", balance_ok,
            (f"imbalance ratio {ratio:.1f}:1 across {len(counts)} classes" if ratio else "Choose the dataset.")
            + ("" if balance_ok else " — say in the balance note how the imbalance is handled."),
            evidence={"imbalance_ratio": ratio, "counts": counts},
        ))
        return checks


class FreezeThenUnfreeze(PlaySpec):
    """Play 4: a fresh head on the frozen base first; unfreeze top-down only if that falls short."""

    number = 4
    keys = ("checkpoint_job",)

    def clean(self, play, updates: dict) -> dict:
        from apps.training.models import Job

        data = super().clean(play, updates)
        if data.get("checkpoint_job") not in (None, ""):
            try:
                data["checkpoint_job"] = int(data["checkpoint_job"])
            except (TypeError, ValueError):
                raise ValidationFailed("checkpoint_job must be a job id") from None
            if not Job.objects.filter(pk=data["checkpoint_job"], play=play,
                                      kind__in=["frozen_head", "unfreeze", "retrain"], status="succeeded").exists():
                raise ValidationFailed("checkpoint_job must be a finished training job of this play")
        return data

    @staticmethod
    def target(play) -> tuple[str | None, str | None, float | None]:
        d1 = play.cycle.plays.get(number=1).deliverable
        target = d1.get("target")
        return d1.get("metric"), d1.get("direction"), float(target) if target not in (None, "") else None

    def checks(self, play) -> list[Check]:
        from django.conf import settings

        from apps.training.models import Artifact

        runs = play.evidence.get("runs") or {}
        frozen_done = any(r.get("kind") == "frozen_head" for r in runs.values())
        checks = [Check("frozen_first", "A fresh head was trained on the frozen base first", frozen_done,
                        "" if frozen_done else "Run the frozen-head job before anything else.")]
        job_id = play.deliverable.get("checkpoint_job")
        run = runs.get(str(job_id)) if job_id else None
        artifact = Artifact.objects.filter(job_id=job_id, kind="checkpoint").first() if run else None
        intact = False
        if artifact:
            from workers.engine.features import file_sha256

            path = settings.DATA_DIR / artifact.path
            intact = path.exists() and file_sha256(path) == artifact.sha256
        checks.append(Check(
            "checkpoint", "The submitted checkpoint exists and matches its hash", intact,
            (f"job #{job_id} ({run['kind']}), sha256 {artifact.sha256[:16]}…" if intact else
             "Choose the job whose best checkpoint you submit." if not run else
             "The checkpoint file is missing or altered."),
            evidence={"job": job_id, "sha256": artifact.sha256 if artifact else None},
        ))
        metric, direction, target = self.target(play)
        if run and metric in (run.get("val") or {}) and target is not None:
            value = run["val"][metric]
            meets = value is not None and meets_target(value, target=target, direction=direction)
            unfreeze_tried = any(r.get("kind") == "unfreeze" for r in runs.values())
            checks.append(Check(
                "val_vs_target", "Validation metric against the Play 1 target", True,
                f"validation {metric} {value:.4f} vs target {target:g}: "
                + ("meets it." if meets else ("short of it." if unfreeze_tried else
                                               "short of it — unfreezing top-down may close the gap.")),
                blocking=False, evidence={"metric": metric, "value": value, "target": target, "meets": meets},
            ))
        return checks


class LaterPlay(PlaySpec):
    def __init__(self, number: int, keys: tuple[str, ...]):
        self.number = number
        self.keys = keys


SPECS: dict[int, PlaySpec] = {
    1: ScopeAndBaseline(),
    2: ChooseBaseModel(),
    3: BuildDataPipeline(),
    4: FreezeThenUnfreeze(),
    5: LaterPlay(5, ("evaluation_job", "failure_analysis", "production_check", "recommendation")),
    6: LaterPlay(6, ("package", "drift_threshold", "live_metric_threshold", "monitoring_note")),
}


def spec_for(play) -> PlaySpec:
    return SPECS[play.number]
