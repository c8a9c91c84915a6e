"""A populated project at a chosen scale, built through the services and the worker's code path.

Shared by the query-budget tests (tests/unit/test_query_budget.py builds one project at scale 1 and one at
scale 10, and checks every page makes the same number of queries for both) and the load benchmark
(bench/load/run.py seeds its database with it).

The project goes through all six plays for real on a tiny random BERT (Plays 2 and 3 have stand-in gates, as
in the Play 5 and 6 tests): a measured baseline, a frozen-base head, the evaluation, the package and a
deployment in production. On top of that, ``scale`` multiplies what grows with use: finished jobs on
Plays 1 and 4, each with its metric points, uploaded datasets, and so audit events and notifications.
"""
from dataclasses import dataclass, field

# What one unit of scale adds (scale 10 adds ten times as much).
JOBS_PER_SCALE = 5  # finished jobs on Play 1 and on Play 4 each
STEPS_PER_JOB = 20  # metric steps (two names each) per job; the last Play 4 job has this times the scale
DATASETS_PER_SCALE = 3


@dataclass
class Populated:
    people: dict
    project: object
    plays: dict  # number -> Play
    deployment: object
    dataset: object
    progress_job: object  # a Play 4 job with 2 * STEPS_PER_JOB * scale metric points
    counts: dict = field(default_factory=dict)


def _upload(name: str, content: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def _people(prefix: str, password: str) -> dict:
    from apps.accounts.services import user_create
    from apps.playbook.services import member_add, project_create

    from django.contrib.auth import get_user_model

    people = {role: user_create(actor=None, username=f"{prefix}{role}", password=password)
              for role in ("mo", "do", "so")}
    people["admin"] = user_create(actor=None, username=f"{prefix}admin", password=password, is_staff=True)
    # The Play 5 walk names the second sign-off owner "so2" (it trains Play 4's head): one person in every project.
    people["so2"] = (get_user_model().objects.filter(username="so2").first()
                     or user_create(actor=None, username="so2", password=password))
    project = project_create(actor=people["mo"], name=f"Ticket routing {prefix}".strip(" -"),
                             request="Route support tickets to queues.")
    for role, username in (("data_owner", f"{prefix}do"), ("signoff_owner", f"{prefix}so"),
                           ("signoff_owner", "so2")):
        member_add(actor=people["mo"], project=project, username=username, role=role)
    people["project"] = project
    people["play1"] = project.cycles.get().plays.get(number=1)
    return people


def _finished_job(kind: str, subject, params: dict, *, steps: int, step_offset: int = 0):
    """A job enqueued by the system and taken through the worker's services: claimed, two metric points a
    step for ``steps`` steps, succeeded."""
    from apps.jobs.kinds import JobOutcome
    from apps.jobs.services import job_claim, job_enqueue, job_report, job_succeed

    job = job_enqueue(kind, subject, params)
    job_claim(job_id=job.pk, device="cpu")
    for start in range(0, steps, 50):  # reports of up to 50 steps each, as a fast job sends them
        chunk = range(start, min(start + 50, steps))
        job_report(job_id=job.pk, points=[(step_offset + s, {"loss": 1.0 / (s + 1)}) for s in chunk],
                   progress=chunk[-1] / steps, split="train")
        job_report(job_id=job.pk, points=[(step_offset + s, {"macro_f1": 0.5 + s / (4 * steps)}) for s in chunk],
                   progress=(chunk[-1] + 1) / steps, split="val")
    job_succeed(job_id=job.pk, outcome=JobOutcome({"factory": True, "steps": steps}))
    job.refresh_from_db()
    return job


def populate(*, scale: int, prefix: str, model_path, monkeypatch, password: str) -> Populated:
    """Build the project for ``prefix`` (users ``<prefix>mo``, ``<prefix>do``, ``<prefix>so``, ``<prefix>admin``,
    and ``so2``, shared). ``monkeypatch`` (pytest's) stands in the gates of Plays 2 and 3 while building."""
    from apps.datasets.services import dataset_upload
    from apps.monitoring.services import deployment_create, deployment_promote
    from apps.playbook.models import Play
    from tests.conftest import SAMPLE_CSV
    from tests.unit.test_play5 import reach_play5
    from tests.unit.test_play6 import _approved, _package

    people = _people(prefix, password)
    state = reach_play5(people, lambda: _upload("sample.csv", SAMPLE_CSV), monkeypatch, model_path)
    play6 = _approved(people, state)
    package = _package(play6)
    deployment = deployment_create(actor=people["mo"], package=package, reason="First deployment.")
    deployment = deployment_promote(actor=people["so"], deployment=deployment, reason="Approved in Play 5.")
    project, cycle = people["project"], state["cycle"]
    plays = {p.number: p for p in Play.objects.filter(cycle=cycle)}

    datasets = []
    for i in range(DATASETS_PER_SCALE * scale):
        rows = "".join(f"ticket {i} line {n} about billing,billing\nticket {i} line {n} about access,access\n"
                       for n in range(4))
        datasets.append(dataset_upload(actor=people["do"], project=project,
                                       upload=_upload(f"extra-{i}.csv", "text,label\n" + rows)))
    frozen = state["frozen"]
    steps = STEPS_PER_JOB * scale
    progress_job = None
    for n in range(JOBS_PER_SCALE * scale):
        _finished_job("baseline", plays[1], {"folds": 3}, steps=STEPS_PER_JOB)
        last = n == JOBS_PER_SCALE * scale - 1  # the job whose progress partial is requested: the longest curve
        progress_job = _finished_job("frozen_head", plays[4], dict(frozen.params),
                                     steps=steps if last else STEPS_PER_JOB)
    return Populated(people=people, project=project, plays=plays, deployment=deployment,
                     dataset=state["split_set"].dataset, progress_job=progress_job,
                     counts=_counts(project, progress_job))


def _counts(project, job) -> dict:
    from apps.audit.models import AuditEvent
    from apps.jobs.models import Job, MetricPoint

    return {"jobs": Job.objects.filter(project=project).count(),
            "metric_points": MetricPoint.objects.filter(job__project=project).count(),
            "progress_job_points": MetricPoint.objects.filter(job=job).count(),
            "datasets": project.datasets.count(),
            "audit_events": AuditEvent.objects.filter(project=project).count()}


def seed_for_bench(*, scale: int, targets_path: str, password: str) -> dict:
    """The load benchmark's data: one project populated at ``scale`` (real password hashing), and the file
    of targets the locustfile reads (usernames, password, ids). Run inside Django (manage.py shell)."""
    import json
    from pathlib import Path

    import pytest
    from django.conf import settings

    from tests.unit.engine.conftest import build_tiny_bert

    model = build_tiny_bert(Path(settings.DATA_DIR) / "models" / "tiny-bench", layers=2, seed=0)
    monkeypatch = pytest.MonkeyPatch()
    try:
        built = populate(scale=scale, prefix="", model_path=model, monkeypatch=monkeypatch, password=password)
    finally:
        monkeypatch.undo()
    targets = {"password": password, "users": {k: built.people[k].username for k in ("mo", "do", "so", "admin")},
               "project": built.project.pk, "plays": {str(n): p.pk for n, p in built.plays.items()},
               "job": built.progress_job.pk, "deployment": built.deployment.pk, "counts": built.counts}
    Path(targets_path).write_text(json.dumps(targets, indent=1), encoding="utf-8")
    return targets
