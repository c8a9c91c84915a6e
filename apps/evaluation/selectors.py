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


def predictions(evaluation: Evaluation) -> list[dict]:
    """The stored per-example predictions, one dict per test row."""
    with open(storage.absolute(evaluation.predictions.path), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
