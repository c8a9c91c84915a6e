"""Play 5's downloads from the pages: the sign-off record and the per-example predictions."""
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.views.decorators.http import require_GET

from apps.core import storage
from apps.evaluation import selectors, services


@login_required
@require_GET
def evaluation_record(request, evaluation_id: int, fmt: str):
    return selectors.record_response(selectors.evaluation_for_user(request.user, evaluation_id), fmt)


@login_required
@require_GET
def evaluation_predictions(request, evaluation_id: int):
    evaluation = selectors.evaluation_for_user(request.user, evaluation_id)
    services.evaluation_predictions_read(actor=request.user, evaluation=evaluation)
    return FileResponse(open(storage.absolute(evaluation.predictions.path), "rb"),
                        content_type="application/jsonl", as_attachment=True,
                        filename=f"evaluation-{evaluation.pk}-predictions.jsonl")
