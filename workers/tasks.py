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


@shared_task(name="workers.tasks.check_stale_jobs", ignore_result=True)
def check_stale_jobs() -> list[int]:
    from apps.jobs.services import jobs_fail_stale

    return jobs_fail_stale()


@shared_task(name="workers.tasks.resend_queued_jobs", ignore_result=True)
def resend_queued_jobs() -> dict:
    """Beat: send again the jobs still queued long after their last send; fail those never picked up."""
    from apps.jobs.services import jobs_resend_queued

    return jobs_resend_queued()


@shared_task(name="workers.tasks.monitoring_tick", ignore_result=True)
def monitoring_tick() -> list[int]:
    """Beat: close the production windows that are due and start their drift checks."""
    from apps.monitoring.monitor import monitoring_tick as tick

    return tick()
