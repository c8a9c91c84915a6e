from apps.core.errors import NotFound
from apps.datasets.models import Dataset, LabelAudit
from apps.playbook import policy


def dataset_for_user(user, dataset_id) -> Dataset:
    try:
        dataset = Dataset.objects.select_related("project", "uploaded_by").get(pk=int(dataset_id))
    except (Dataset.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such dataset.") from None
    if not policy.can_view(user, dataset.project):
        raise NotFound("No such dataset.")
    return dataset


def audit_for_user(user, audit_id) -> LabelAudit:
    try:
        audit = LabelAudit.objects.select_related("dataset__project", "auditor").get(pk=int(audit_id))
    except (LabelAudit.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such audit.") from None
    if not policy.can_view(user, audit.dataset.project):
        raise NotFound("No such audit.")
    return audit


def audit_play_url(audit: LabelAudit) -> str:
    """Where a page action on ``audit`` sends the browser back to: Play 3 of the project's latest cycle
    (the project's page if it has none)."""
    from django.urls import reverse

    from apps.playbook.models import Play

    play = (Play.objects.filter(cycle__project_id=audit.dataset.project_id, number=3)
            .order_by("-cycle__number").first())
    if play is None:
        return reverse("playbook:project", kwargs={"project_id": audit.dataset.project_id})
    return reverse("playbook:play", kwargs={"play_id": play.pk}) + "#audit"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


def _interval(value) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    lo, hi = _number(value[0]), _number(value[1])
    return None if lo is None or hi is None else [lo, hi]


def audit_statistics(results) -> dict:
    """An audit's figures, whatever version of ``audit_results`` stored them, each a number (or [lo, hi])
    or None: never an error.

    Consistency is judged on the uniform random part only: "agreement" (with "agreement_ci"), "kappa" (=
    "kappa_random") and the estimated label-error rate of the whole dataset, "error_rate" (with
    "error_rate_ci"). The error-ranked part is shown on its own as "flagged_precision" (share of flagged
    items the auditor disagreed with). "kappa_all" is the kappa over the whole, biased, sample. Results
    stored before these keys existed held the whole-sample kappa under "kappa" and the random part's under
    "kappa_random": they are read with today's meanings."""
    r = results if isinstance(results, dict) else {}
    agreement, agreement_ci = _number(r.get("agreement")), _interval(r.get("agreement_ci"))
    legacy = "kappa_random" in r and "kappa_all" not in r
    kappa = _number(r.get("kappa_random")) if "kappa_random" in r else _number(r.get("kappa"))
    error_rate = _number(r.get("error_rate"))
    if error_rate is None and "error_rate" not in r and agreement is not None:
        error_rate = 1.0 - agreement
    error_rate_ci = _interval(r.get("error_rate_ci"))
    if error_rate_ci is None and "error_rate_ci" not in r and agreement_ci is not None:
        # Wilson's interval for the disagreement share is the agreement interval mirrored.
        error_rate_ci = [1.0 - agreement_ci[1], 1.0 - agreement_ci[0]]
    return {
        "agreement": agreement, "agreement_ci": agreement_ci, "kappa": kappa, "kappa_random": kappa,
        "kappa_all": _number(r.get("kappa")) if legacy else _number(r.get("kappa_all")),
        "error_rate": error_rate, "error_rate_ci": error_rate_ci,
        "flagged_precision": _number(r.get("flagged_precision")),
        "flagged_precision_ci": _interval(r.get("flagged_precision_ci")),
        "random_n": r.get("random_n") if isinstance(r.get("random_n"), int) else None,
        "flagged_n": r.get("flagged_n") if isinstance(r.get("flagged_n"), int) else None,
    }


def audit_summary(audit: LabelAudit) -> dict:
    """The audit's results as the API and the page show them (the disagreements with their resolutions
    and the text the auditor judged)."""
    r = audit.results if isinstance(audit.results, dict) else {}
    items = {i.pk: i for i in audit.items.all()}
    answered = sum(1 for i in items.values() if i.answered_at)
    disagreements = [
        {"item": i.pk, "row": i.row_index, "part": i.part, "original": i.original_label, "answer": i.answer,
         "resolution": i.resolution or None, "note": i.resolution_note}
        for i in items.values() if i.answered_at and i.answer != i.original_label
    ] if audit.status == LabelAudit.Status.COMPLETE else []
    if disagreements:
        rows = audit.dataset.read_rows()
        for d in disagreements:
            d["text"] = rows[d["row"]].get("text", "") if d["row"] < len(rows) else ""
    return {
        "id": audit.pk, "dataset": audit.dataset_id, "auditor": audit.auditor.get_username(), "status": audit.status,
        "size": audit.size, "answered": answered, **audit_statistics(r), "disagreements": disagreements,
        "relabelled_dataset": r.get("relabelled_dataset"), "message": audit.message, "ranked_by": r.get("ranked_by"),
    }


def audit_display(summary: dict) -> dict:
    """The audit's figures as the page prints them (percentages with their 95% intervals)."""
    def pct(value):
        return "n/a" if value is None else f"{value:.1%}"

    def ci(interval):
        return "n/a" if not interval else f"{interval[0]:.1%}–{interval[1]:.1%}"

    kappa = summary.get("kappa")
    return {
        "agreement": pct(summary.get("agreement")), "agreement_ci": ci(summary.get("agreement_ci")),
        "kappa": "n/a" if kappa is None else f"{kappa:.3f}",
        "error_rate": pct(summary.get("error_rate")), "error_rate_ci": ci(summary.get("error_rate_ci")),
        "flagged_precision": pct(summary.get("flagged_precision")),
        "flagged_precision_ci": ci(summary.get("flagged_precision_ci")),
        "random_n": summary.get("random_n"), "flagged_n": summary.get("flagged_n"),
    }


def curated_dataset(project) -> Dataset | None:
    """The labelled dataset version the project's data work builds on now: the one chosen in the current
    cycle's Play 3, else the one the newest approved Play 3 handed on (a retrain cycle starts from the
    previous cycle's). None when there is neither."""
    from apps.playbook.plays import stored_id
    from apps.playbook.selectors import current_cycle, cycle_inputs

    cycle = current_cycle(project)
    if cycle is None:
        return None
    play3 = cycle.plays.filter(number=3).first()
    chosen = stored_id((play3.deliverable or {}).get("dataset")) if play3 and isinstance(play3.deliverable, dict) else None
    if chosen is None and (handed := cycle_inputs(cycle).get(3)) is not None:
        chosen = handed.dataset
    if chosen is None:
        return None
    return (Dataset.objects.filter(pk=chosen, project=project).exclude(kind=Dataset.Kind.PRODUCTION_SAMPLE)
            .select_related("project").first())
