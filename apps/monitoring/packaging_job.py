"""Worker side of Play 6's package job: gather what the gates recorded (Play 1's use and metric, Play 2's
base model and licence, Play 3's data and audit, Play 4's recipe, Play 5's results and approvals) and hand
it to the engine (workers.engine.packaging), which writes the package; the Package row is written when the
job succeeds."""
from apps.core import storage
from apps.core.errors import ValidationFailed
from apps.jobs.kinds import JobInputError, JobOutcome
from apps.playbook.plays import int_param, reject_unknown


def package_params(play, params: dict) -> dict:
    from apps.playbook.selectors import cycle_inputs

    reject_unknown(params, {"timing_calls"}, "package")
    if 5 not in cycle_inputs(play.cycle):
        raise ValidationFailed("Packaging needs the model a Play 5 gate handed on: approve Play 5 first.")
    from django.conf import settings

    return {"timing_calls": int_param(params, "timing_calls", settings.PLAYBOOK_PACKAGE_TIMING_CALLS, 0, 2000)}


def _card(play, inputs: dict, evaluation, shipped) -> dict:
    """The model card's facts, from the gate records."""
    from apps.playbook.models import GateDecision

    p1, p3 = inputs.get(1), inputs.get(3)
    p2 = inputs.get(2)
    report = evaluation.report
    approvals = GateDecision.objects.filter(play__cycle__project=play.cycle.project, play__status="approved") \
        .exclude(outputs={}).select_related("decided_by", "play").order_by("play__number", "created_at")
    metrics = {name: m["value"] for name, m in report["models"].items()}
    split_sizes = ", ".join(f"{name} {info.get('rows')}" for name, info in ((p3.splits or {}).items() if p3 else ()))
    return {
        "model_name": f"{play.cycle.project.name} — {shipped.model}",
        "summary": play.cycle.project.request,
        "version": f"cycle {play.cycle.number}, evaluation #{evaluation.pk}",
        "model_date": evaluation.created_at.date().isoformat(),
        "developed_by": f"the project team of '{play.cycle.project.name}'",
        "license": getattr(p2, "licence", None),
        "base_model": getattr(p2, "source", None),
        "intended_use": (play.cycle.plays.get(number=1).deliverable or {}).get("problem_statement"),
        "metrics": {report["metric"]: shipped.test_value, **{f"{report['metric']} ({n})": v for n, v in metrics.items()}},
        "metric_notes": (f"Committed in Play 1: {p1.metric} ({p1.direction} is better), target {p1.target:g}, "
                         f"minimum margin over the baseline {p1.min_margin:g}." if p1 else None),
        "evaluation_data": (f"The sealed test split ({report['rows']} rows, sha256 {evaluation.test_split_sha256}), "
                            "read only by evaluation and packaging jobs."),
        "training_data": (f"Dataset #{p3.dataset} (sha256 {p3.dataset_sha256}), sealed splits {split_sizes}; "
                          f"label audit #{p3.audit}." if p3 else None),
        "quantitative_analyses": {label: {"F1": entry["f1"]["candidate"]["value"]}
                                  for label, entry in (report.get("per_class") or {}).items()},
        "caveats": f"Verdict against the reference ({report['reference']}): {report['delta']['verdict']}.",
        "approvals": [f"Play {d.play.number}: {d.get_decision_display()} by {d.decided_by.get_username()} "
                      f"on {d.created_at.date().isoformat()}" for d in approvals],
    }


def run_package(job, report) -> JobOutcome:
    from apps.datasets.curation import split_rows
    from apps.datasets.models import SplitSet
    from apps.evaluation.models import Evaluation
    from apps.playbook.selectors import cycle_inputs
    from workers.engine import packaging

    inputs = cycle_inputs(job.play.cycle)
    shipped = inputs[5]
    evaluation = Evaluation.objects.get(pk=shipped.evaluation)
    splits = {s.name: s for s in SplitSet.objects.get(pk=shipped.split_set).splits.all()}
    test = split_rows(splits["test"], job=job, purpose="package: parity and monitoring reference")
    texts = [r["text"] for r in test]
    card = _card(job.play, inputs, evaluation, shipped)
    lineage = {"project": job.project_id, "cycle": job.play.cycle.number, "evaluation": evaluation.pk,
               "split_set": shipped.split_set, "splits": {n: s.sha256 for n, s in splits.items()},
               "checkpoint_job": shipped.checkpoint_job, "approvals": shipped.approvals}
    reference = {"test_label_mix": {label: sum(r["label"] == label for r in test) for label in shipped.label_names},
                 "test_metric": {"metric": shipped.metric, "value": shipped.test_value, "ci": shipped.test_ci}}
    out = storage.package_dir(job.pk)
    timing = job.params.get("timing_calls", 200)
    try:
        if shipped.shipped == "candidate":
            result = packaging.build_package(
                storage.absolute(shipped.checkpoint_path), out, temperature=shipped.temperature, card=card,
                lineage=lineage, parity_texts=texts, reference=reference, report=report, timing_calls=timing,
                expected_sha256=shipped.checkpoint_sha256)
        else:
            if shipped.model not in packaging.BASELINES:
                raise JobInputError(f"The shipped baseline {shipped.model!r} cannot be packaged: Playbook packages "
                                    f"{' and '.join(packaging.BASELINES)} baselines.")
            train = split_rows(splits["train"], job=job, purpose="package: refit the shipped baseline")
            result = packaging.build_baseline_package(
                [r["text"] for r in train], [r["label"] for r in train], shipped.label_names, shipped.model, out,
                card=card, lineage=lineage, parity_texts=texts, reference=reference, report=report,
                timing_calls=timing)
    except (packaging.PackageInvalid, ValueError) as exc:
        raise JobInputError(f"The package could not be built: {exc}") from exc
    facts = {"evaluation": evaluation, "shipped": shipped.shipped, "model_name": shipped.model,
             "path": storage.relative(result.path), "sha256": result.sha256, "size_bytes": result.total_bytes,
             "label_names": list(shipped.label_names), "temperature": shipped.temperature,
             "parity": {**result.parity, "warnings": result.warnings},
             "manifest": result.files}

    def record(job):
        from apps.monitoring.services import deployment_promote_approved, package_record

        package = package_record(job=job, facts=facts)
        deployment = deployment_promote_approved(package=package)
        job.result = {**job.result, "package": package.pk,
                      **({"deployment": deployment.pk} if deployment is not None else {})}
        job.save(update_fields=["result"])

    return JobOutcome({"sha256": result.sha256, "parity_ok": result.parity_ok, "bytes": result.total_bytes,
                       "warnings": result.warnings}, record=record)
