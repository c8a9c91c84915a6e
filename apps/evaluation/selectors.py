"""Reads of Play 5's evaluations: fetch-and-authorize (an evaluation of a project the user may not see is
reported like one that does not exist) and the files they name."""
import json

from apps.core import storage
from apps.core.errors import NotFound
from apps.evaluation.models import Evaluation
from apps.playbook import policy


def evaluation_for_user(user, evaluation_id) -> Evaluation:
    try:
        evaluation = (Evaluation.objects.select_related("project", "predictions", "record_html", "record_pdf")
                      .get(pk=int(evaluation_id)))
    except (Evaluation.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such evaluation.") from None
    if not policy.can_view(user, evaluation.project):
        raise NotFound("No such evaluation.")
    return evaluation


def record_file(evaluation: Evaluation, fmt: str):
    """The sign-off record's artifact in ``fmt`` ("html" or "pdf"), or NotFound while none is written."""
    artifact = {"html": evaluation.record_html, "pdf": evaluation.record_pdf}.get(fmt)
    if artifact is None:
        raise NotFound("No sign-off record yet: it is written once the gate has decided.")
    return storage.absolute(artifact.path), artifact


def record_response(evaluation: Evaluation, fmt: str):
    """The sign-off record as a download (PDF) or a page (HTML that may load nothing), with its hash."""
    from django.http import FileResponse

    path, artifact = record_file(evaluation, fmt)
    response = FileResponse(open(path, "rb"), content_type="application/pdf" if fmt == "pdf" else "text/html; charset=utf-8",
                            filename=f"signoff-evaluation-{evaluation.pk}.{fmt}", as_attachment=fmt == "pdf")
    response["X-Content-SHA256"] = artifact.sha256
    if fmt == "html":  # the record is self-contained
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return response


def predictions(evaluation: Evaluation) -> list[dict]:
    """The stored per-example predictions, one dict per test row."""
    with open(storage.absolute(evaluation.predictions.path), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


KIND_ORDER = {"candidate": 0, "production": 1, "frozen_head": 2, "baseline": 3}


def report_in_order(report: dict) -> dict:
    """The report with its mappings in reading order. PostgreSQL's jsonb keeps an object's keys in its own
    order (shortest first), so pages, the API and the record put them back: models candidate first, then
    the reference and the rest by kind; classes in label order; slices by name."""
    if not report:
        return report
    ordered = dict(report)
    reference = report.get("reference")
    models = report.get("models") or {}
    ordered["models"] = dict(sorted(models.items(), key=lambda kv: (
        kv[1].get("kind") != "candidate", kv[0] != reference, KIND_ORDER.get(kv[1].get("kind"), 9), kv[0])))
    labels = report.get("label_names") or []
    rank = {label: i for i, label in enumerate(labels)}
    if isinstance(report.get("per_class"), dict):
        ordered["per_class"] = dict(sorted(report["per_class"].items(), key=lambda kv: rank.get(kv[0], len(rank))))
    if isinstance(report.get("slices"), dict):
        ordered["slices"] = {column: dict(sorted(values.items())) for column, values in report["slices"].items()}
    production = report.get("production")
    if isinstance(production, dict) and isinstance(production.get("predicted_mix"), dict):
        production = dict(production)
        production["predicted_mix"] = {
            side: dict(sorted(mix.items(), key=lambda kv: rank.get(kv[0], len(rank))))
            for side, mix in production["predicted_mix"].items()}
        ordered["production"] = production
    if isinstance(report.get("golden"), dict) and report["golden"].get("models"):
        ordered["golden"] = report_in_order(report["golden"])
    return ordered
