from apps.core.errors import NotFound
from apps.jobs.models import Job


def job_for_user(user, job_id, *, can_view) -> Job:
    """The job, or NotFound when it is missing or its project is not visible to `user` (`can_view(user,
    project)` is the core policy's check, passed in: this app sits below the core)."""
    try:
        job = Job.objects.select_related("project", "play__cycle__project", "created_by").get(pk=int(job_id))
    except (Job.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such job.") from None
    if not can_view(user, job.project):
        raise NotFound("No such job.")
    return job


def job_metric_series(job: Job) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for point in job.metrics.order_by("step"):
        series.setdefault(f"{point.split}/{point.name}" if point.split != "train" else point.name, []).append(
            (point.step, point.value))
    return series
