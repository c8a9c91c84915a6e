"""Every state change of Play 5's evaluations: the report a job recorded, the sign-off record attached to
it, and each download of the per-example predictions (audited, for sign-off owners and admins)."""
from django.db import transaction

from apps.audit.services import audit_record
from apps.core.errors import NotAllowed
from apps.evaluation.models import Evaluation
from apps.jobs.models import Artifact
from apps.jobs.services import WORKER
from apps.playbook import policy
from apps.playbook.policy import Action


def evaluation_record(*, job, report: dict, inputs: dict, predictions_sha256: str) -> Evaluation:
    """Worker side, inside the transaction that marks the evaluate job succeeded: store its report."""
    predictions = Artifact.objects.get(job=job, kind=Artifact.Kind.PREDICTIONS, sha256=predictions_sha256)
    evaluation = Evaluation.objects.create(
        project=job.project, play=job.play, job=job, checkpoint_job_id=inputs["checkpoint_job"],
        checkpoint_sha256=inputs["checkpoint_sha256"], split_set_id=inputs["split_set"],
        test_split_sha256=inputs["test_split_sha256"], metric=report["metric"], direction=report["direction"],
        margin=report["margin"], reference=report["reference"], verdict=report["delta"]["verdict"],
        temperature=(report.get("calibration") or {}).get("temperature"), report=report, predictions=predictions,
    )
    audit_record(actor=WORKER, action="evaluation.recorded", project=job.project, obj=evaluation,
                 after={"job": job.pk, "candidate_checkpoint": inputs["checkpoint_sha256"],
                        "test_split": inputs["test_split_sha256"], "predictions": predictions_sha256,
                        "reference": report["reference"], "delta": report["delta"]["value"],
                        "delta_ci": report["delta"]["ci"], "verdict": report["delta"]["verdict"]})
    return evaluation


def evaluation_attach_record(*, job, evaluation_id: int, decision_id: int, html_sha256: str, pdf_sha256: str) -> None:
    """Worker side: the sign-off record (HTML and PDF) of a decided Play 5 gate, named in the audit trail."""
    evaluation = Evaluation.objects.select_for_update().get(pk=evaluation_id)
    artifacts = Artifact.objects.filter(job=job, kind=Artifact.Kind.SIGNOFF_RECORD)
    evaluation.record_html = artifacts.get(sha256=html_sha256)
    evaluation.record_pdf = artifacts.get(sha256=pdf_sha256)
    evaluation.record_decision_id = decision_id
    evaluation.save(update_fields=["record_html", "record_pdf", "record_decision"])
    audit_record(actor=WORKER, action="evaluation.signoff_record_written", project=evaluation.project,
                 obj=evaluation, after={"decision_id": decision_id, "html": html_sha256, "pdf": pdf_sha256,
                                        "job": job.pk})


def evaluation_predictions_read(*, actor, evaluation: Evaluation) -> None:
    """Sign-off owners and admins may download an evaluation's per-example predictions (the test rows'
    labels and every model's answers); each download is recorded."""
    verdict = policy.check(actor, Action.EVALUATION_PREDICTIONS, evaluation.project)
    if not verdict:
        raise NotAllowed(verdict.reason)
    with transaction.atomic(durable=True):
        audit_record(actor=actor, action="evaluation.predictions_downloaded", project=evaluation.project,
                     obj=evaluation, after={"sha256": evaluation.predictions.sha256})
