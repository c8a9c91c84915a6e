"""Celery tasks: thin adapters that pass a job id to apps.jobs.runner.

One task per queue; each loads the job and dispatches by its kind (the kinds are registered by the play
modules). Both are idempotent (the runner claims the job with a compare-and-set, so a redelivered message
for a running or finished job does nothing), which is what makes acks_late safe here. Services enqueue
them by name after commit and never import this module.
"""
from celery import shared_task


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda:0 {torch.cuda.get_device_name(0)}"
    return "cpu"


@shared_task(name="workers.tasks.run_light_job", acks_late=True, ignore_result=True)
def run_light_job(job_id: int) -> str:
    from apps.jobs.runner import job_execute

    return job_execute(job_id, device="cpu")


@shared_task(name="workers.tasks.run_training_job", acks_late=True, ignore_result=True)
def run_training_job(job_id: int) -> str:
    from apps.jobs.runner import job_execute

    return job_execute(job_id, device=_device())


@shared_task(name="workers.tasks.prepare_label_audit", acks_late=True, ignore_result=True)
def prepare_label_audit(audit_id: int) -> str:
    """Pick a label audit's sample (out-of-fold ranking of every row): seconds to minutes on a large dataset.

    Idempotent (only an audit still "preparing" is filled in), so acks_late is safe; any error is recorded
    on the audit, which the data owner then sees as failed and can start again.
    """
    import logging

    from apps.datasets.curation import label_audit_prepare, label_audit_prepare_failed

    try:
        return label_audit_prepare(audit_id)
    except Exception as exc:  # the failure must be visible on the audit, whatever it was
        logging.getLogger(__name__).exception("preparing label audit %s failed", audit_id)
        label_audit_prepare_failed(audit_id, f"{type(exc).__name__}: {exc}")
        return "failed"


@shared_task(name="workers.tasks.check_stale_jobs", ignore_result=True)
def check_stale_jobs() -> list[int]:
    from apps.jobs.services import jobs_fail_stale

    return jobs_fail_stale()
