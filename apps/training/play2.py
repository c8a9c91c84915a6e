"""Play 2, choose the base model: two or three candidates compared as frozen feature extractors (a
linear probe on cached features, latency, memory), weighed on domain proximity, budget and licence."""
from dataclasses import dataclass

from apps.core.errors import ValidationFailed
from apps.core.storage import features_dir
from apps.jobs.kinds import GPU, ArtifactFile, JobKind, JobOutcome
from apps.playbook import policy
from apps.playbook.plays import Check, PlayModule, id_list, int_param, optional_id, stored_id
from apps.playbook.policy import Action
from apps.core.templatetags.units import bytes_human, ms
from apps.training.figures import latency_comparison, latency_figure, metric_figure, quality_comparison
from apps.training.models import Candidate
from apps.training.play1 import check_folds, labelled_sample_params


@dataclass(frozen=True)
class Play2Outputs:
    """The chosen base model, as later plays load it."""

    candidate: int
    name: str
    source: str
    licence: str
    probe_metric: str
    probe_value: float | None
    bakeoff_job: int | None


def _play1_deliverable(play) -> dict:
    first = play.cycle.plays.filter(number=1).first()
    return first.deliverable if first else {}


def _bakeoff_params(play, params: dict) -> dict:
    """Defaults come from the play's approved inputs: the shortlist, and Play 1's labelled sample."""
    allowed = {"candidates", "dataset", "folds", "seed", "max_length"}
    if unknown := sorted(set(params) - allowed):
        raise ValidationFailed(f"A bake-off does not take the setting(s) {', '.join(unknown)}; "
                               f"it takes: {', '.join(sorted(allowed))}.")
    ids = id_list(params.get("candidates", play.deliverable.get("shortlist") or []), "params.candidates")
    if not 2 <= len(ids) <= 3:
        raise ValidationFailed("A bake-off compares two or three candidates: shortlist them first.")
    found = set(Candidate.objects.filter(project_id=play.cycle.project_id, pk__in=ids).values_list("pk", flat=True))
    if missing := [i for i in ids if i not in found]:
        raise ValidationFailed(f"Not candidates of this project: {', '.join(map(str, missing))}")
    dataset = params.get("dataset", _play1_deliverable(play).get("baseline_dataset"))
    checked = labelled_sample_params(play, {"dataset": dataset, **{k: params[k] for k in ("folds", "seed") if k in params}})
    return {**checked, "candidates": ids, "max_length": int_param(params, "max_length", 128, 8, 512)}


def _run_bakeoff(job, report) -> JobOutcome:
    from apps.datasets.models import Dataset
    from apps.playbook.services import play_record_evidence
    from workers.engine.bakeoff import METRIC_DIRECTIONS, run_bakeoff

    dataset = Dataset.objects.get(pk=job.params["dataset"])
    check_folds(dataset, job.params["folds"])
    candidates = {c.pk: c for c in Candidate.objects.filter(pk__in=job.params["candidates"])}
    play1 = _play1_deliverable(job.play)
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
        ArtifactFile("feature_cache", card["feature_cache"]["path"], card["feature_cache"]["sha256"],
                     f"features of {candidates[int(n)].name}")
        for n, card in result["candidates"].items() if "feature_cache" in card
    ]
    return JobOutcome(result, artifacts, record=lambda job: play_record_evidence(
        actor="worker", play=job.play, key="bakeoff", value=evidence))


class ChooseBaseModel(PlayModule):
    number = 2
    keys = ("shortlist", "chosen_candidate", "rationale")
    list_keys = frozenset({"shortlist"})
    MIN_RATIONALE = 40
    workspace_template = "training/_play2_workspace.html"
    evidence_template = "training/_play2_evidence.html"
    Outputs = Play2Outputs
    job_kinds = {"bakeoff": JobKind("bakeoff", "Base-model bake-off", run=_run_bakeoff, clean=_bakeoff_params,
                                    queue=GPU)}

    def clean(self, play, updates: dict) -> dict:
        data = super().clean(play, updates)
        project_id = play.cycle.project_id
        if "shortlist" in data:
            ids = id_list(data["shortlist"], "shortlist")
            if len(ids) > 3:
                raise ValidationFailed("Shortlist two or three candidates, not more.")
            known = set(Candidate.objects.filter(project_id=project_id, pk__in=ids).values_list("pk", flat=True))
            if missing := [i for i in ids if i not in known]:
                raise ValidationFailed(f"Not candidates of this project: {', '.join(map(str, missing))}")
            data["shortlist"] = ids
        if "chosen_candidate" in data:
            chosen = optional_id(data["chosen_candidate"], "chosen_candidate")
            if chosen is not None and not Candidate.objects.filter(project_id=project_id, pk=chosen).exists():
                raise ValidationFailed(f"Choose one of this project's candidates (#{chosen} is not one of them).")
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

    def _chosen(self, play):
        chosen_id = stored_id(play.deliverable.get("chosen_candidate"))
        chosen = Candidate.objects.filter(pk=chosen_id, project_id=play.cycle.project_id).first() if chosen_id else None
        card = self.scorecards(play).get(chosen_id) if chosen_id else None
        return chosen, card

    def checks(self, play) -> list[Check]:
        d = play.deliverable
        shortlist = d.get("shortlist") or []
        cards = self.scorecards(play)
        chosen, card = self._chosen(play)
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
            memory_bytes = card.get("peak_memory_bytes") or card.get("model_bytes") or 0
            memory_ok = memory_bytes / 2**20 <= chosen.memory_budget_mb
            checks.append(Check(
                "budget", "Within its latency and memory budget on this worker", latency_ok and memory_ok,
                (f"p95 {ms(card.get('p95_latency_ms', 0))} per item vs {chosen.latency_budget_ms:g} ms budget; "
                 f"{bytes_human(memory_bytes)} vs {chosen.memory_budget_mb:g} MB budget"),
                blocking=False,
            ))
        return checks

    def outputs(self, play) -> Play2Outputs:
        chosen, card = self._chosen(play)
        evidence = play.evidence.get("bakeoff") or {}
        metric = evidence.get("metric", "macro_f1")
        return Play2Outputs(candidate=chosen.pk, name=chosen.name, source=chosen.source, licence=chosen.licence,
                            probe_metric=metric, probe_value=(card or {}).get(metric),
                            bakeoff_job=evidence.get("job"))

    def _scorecard_rows(self, play) -> list[dict]:
        """One row per scored candidate: its figures with their spread, and whether it is within noise of the
        best probe (on the bake-off's metric)."""
        cards = self.scorecards(play)
        evidence = play.evidence.get("bakeoff") or {}
        ranking = evidence.get("ranking") or []
        metric = evidence.get("metric", "macro_f1")
        best = cards.get(ranking[0]) if ranking else None
        rows = []
        for candidate in Candidate.objects.filter(pk__in=cards).order_by("name"):
            card = cards[candidate.pk]
            memory_bytes = card.get("peak_memory_bytes") or card.get("model_bytes") or 0
            memory_mb = memory_bytes / 2**20
            rank = ranking.index(candidate.pk) + 1 if candidate.pk in ranking else None
            vs_best = (quality_comparison(candidate.name, card, "the best", best, metric)
                       if best is not None and rank not in (None, 1) else None)
            rows.append({
                "candidate": candidate, "card": card, "score": card.get(metric), "memory_mb": memory_mb,
                "memory_bytes": memory_bytes, "rank": rank,
                "figure": metric_figure(card, metric), "accuracy": metric_figure(card, "accuracy"),
                "latency": latency_figure(card), "has_spread": bool(card.get("folds_spread")),
                "within_noise_of_best": bool(vs_best and vs_best["within_noise"]),
                "over_latency": card.get("p95_latency_ms", 0) > candidate.latency_budget_ms,
                "over_memory": memory_mb > candidate.memory_budget_mb,
            })
        return rows

    def _comparisons(self, play, rows: list[dict]) -> list[dict]:
        """Every pair of scored candidates, best-ranked first: quality on the bake-off's metric and latency,
        each saying whether the difference is within noise, and a caveat where the smaller model measured
        slower."""
        evidence = play.evidence.get("bakeoff") or {}
        metric = evidence.get("metric", "macro_f1")
        scored = sorted((r for r in rows if "error" not in r["card"]), key=lambda r: (r["rank"] or 99, r["candidate"].name))
        pairs = []
        for i, a in enumerate(scored):
            for b in scored[i + 1:]:
                a_name, b_name = a["candidate"].name, b["candidate"].name
                pairs.append({
                    "names": (a_name, b_name),
                    "quality": quality_comparison(a_name, a["card"], b_name, b["card"], metric),
                    "latency": latency_comparison(a_name, a["card"], b_name, b["card"], device=evidence.get("device", "")),
                })
        return pairs

    def workspace(self, request, play) -> dict:
        project = play.cycle.project
        rows = self._scorecard_rows(play)
        return {
            "candidates": list(project.candidates.all()),
            "shortlist": play.deliverable.get("shortlist") or [],
            "scorecards": rows,
            "comparisons": self._comparisons(play, rows),
            "scorecards_without_spread": [r["candidate"].name for r in rows
                                          if "error" not in r["card"] and not r["has_spread"]],
            "bakeoff": play.evidence.get("bakeoff") or {},
            "can_register_candidate": bool(policy.check(request.user, Action.CANDIDATE_REGISTER, project))
            and project.status == project.Status.ACTIVE,
        }


PLAY = ChooseBaseModel()
