from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from apps.core.errors import ApplicationError
from apps.core.views import HtmxHttpRequest, flash_error
from apps.playbook import policy
from apps.playbook.policy import Action
from apps.training import selectors, services


CHARTED = ("frozen_head", "unfreeze", "retrain")


def job_context(user, job) -> dict:
    """What the progress fragment shows: the job, whether this user may cancel it, its curves."""
    return {
        "job": job,
        "can_cancel": not job.is_finished and bool(policy.check(user, Action.JOB_CANCEL, job.project, play=job.play)),
        "series": selectors.job_metric_series(job) if job.kind in CHARTED else None,
        "series_id": f"series-{job.pk}",
    }


@login_required
@require_GET
def job_progress(request: HtmxHttpRequest, job_id: int):
    """The polled progress fragment. Once the job has finished, the response stops the polling (286)
    and tells the page to refresh its gate panel."""
    job = selectors.job_for_user(request.user, job_id)
    response = render(request, "training/_job_progress.html", job_context(request.user, job))
    if job.is_finished and request.htmx:
        stop = HttpResponseStopPolling(response.content)
        return trigger_client_event(stop, "job-finished", {"job": job.pk, "status": job.status})
    return response


@login_required
@require_POST
def job_cancel(request: HtmxHttpRequest, job_id: int):
    job = selectors.job_for_user(request.user, job_id)
    try:
        services.job_cancel(actor=request.user, job=job)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.info(request, f"Cancellation of job #{job.pk} requested.")
    return redirect("playbook:play", play_id=job.play_id)
