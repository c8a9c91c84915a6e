"""The demo's second project is built by the driver that `manage.py demo` runs in the background: every job
on a real Celery worker (PostgreSQL + Redis), every step as the demo user who owns it, through the
services. At the end every play of cycle 1 is approved, the deployment is in production with judged
monitoring windows, the audit chain verifies, and a second run of the driver changes nothing."""
import time

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.audit.verification import verify_chain
from apps.jobs.models import Job
from apps.monitoring.models import Deployment, MonitoringWindow
from apps.ops import demo_cycle
from apps.playbook.models import GateDecision, Play

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Small enough for a shared 2-core machine; the same steps and jobs as the full demo.
RECIPE = demo_cycle.Recipe(rows=350, production_rows=120, frozen_epochs=10, audit_size=10, windows=2)


def _footprint(project) -> tuple:
    return (AuditEvent.objects.count(), Job.objects.count(), GateDecision.objects.count(),
            MonitoringWindow.objects.count(), project.cycles.count(),
            sorted(Play.objects.filter(cycle__project=project).values_list("pk", "status", "updated_at")))


def build_and_check_demo_cycle(settings):
    """Builds the demo project with the driver on the running worker and checks what was built; returns the
    project. The build is the slowest thing in the suite, so it runs once, in the README screenshot test
    (tests/e2e/test_readme_screenshots.py), which then takes its pictures of the same project."""
    settings.PLAYBOOK_WINDOW_SIZE = 200  # the policy's minimum window
    call_command("seed_demo")
    lines = []

    def log(line: str) -> None:
        lines.append(line)
        print(f"[demo cycle] {line}", flush=True)

    started = time.monotonic()
    demo_cycle.build(RECIPE, poll=1.0, timeout=2400, log=log)
    print(f"demo cycle built in {time.monotonic() - started:.0f} s")
    project = demo_cycle.project()
    cycle = project.cycles.get(number=1)

    # Every play approved, each gate decided by the sign-off owner on work its owner submitted.
    plays = {p.number: p for p in cycle.plays.select_related("submitted_by")}
    assert {n: p.status for n, p in plays.items()} == {n: Play.Status.APPROVED for n in range(1, 7)}
    submitters = {n: p.submitted_by.username for n, p in plays.items()}
    assert submitters == {1: "model.owner", 2: "model.owner", 3: "data.owner", 4: "model.owner",
                          5: "signoff.owner", 6: "model.owner"}
    decided = GateDecision.objects.filter(play__cycle=cycle, decision="approve")
    assert set(decided.values_list("decided_by__username", flat=True)) == {"signoff.owner"}
    assert decided.count() == 6

    # The jobs are real and ran on the worker: each succeeded with its measured result.
    jobs = Job.objects.filter(project=project)
    kinds = set(jobs.filter(status=Job.Status.SUCCEEDED).values_list("kind", flat=True))
    assert {"baseline", "bakeoff", "seal", "prepare_audit", "compare_production", "frozen_head", "unfreeze",
            "evaluate", "package", "drift_check"} <= kinds
    assert all(j.worker_host for j in jobs.filter(status=Job.Status.SUCCEEDED))
    bakeoff = jobs.get(kind="bakeoff", status=Job.Status.SUCCEEDED)
    assert len(bakeoff.result["candidates"]) == 2
    assert plays[2].deliverable["chosen_candidate"] == int(bakeoff.result["ranking"][0])
    # The label audit was answered by a second person (not the uploader, not the data owner).
    audit = project.datasets.get(pk=plays[3].deliverable["dataset"]).audits.get(pk=plays[3].deliverable["audit"])
    assert audit.status == "complete" and audit.auditor.username == "signoff.owner"
    assert audit.items.filter(answered_at__isnull=False).count() == audit.size == RECIPE.audit_size
    # Play 5's answers quote the evaluation the worker computed.
    evaluation = plays[5].deliverable["evaluation"]
    assert f"{jobs.get(kind='evaluate').evaluation.report['delta']['value']:+.3f}" in \
        plays[5].deliverable["beat_baseline"]
    assert jobs.get(kind="evaluate").evaluation.pk == evaluation

    # In production, with judged windows of traffic.
    deployment = Deployment.objects.get(project=project)
    assert deployment.stage == Deployment.Stage.PRODUCTION
    windows = list(deployment.windows.order_by("index"))
    assert [w.index for w in windows] == [1, 2] and all(w.judged and w.rows == 200 for w in windows)
    assert all(w.job.status == Job.Status.SUCCEEDED and w.job.created_by is None for w in windows)
    assert windows[0].labelled > 0

    # The audit trail reads like the team's work and verifies.
    actors = set(AuditEvent.objects.filter(project=project).values_list("actor__username", flat=True))
    assert {"model.owner", "data.owner", "signoff.owner"} <= actors
    report = verify_chain()
    assert report.ok, report.problem

    # Running the driver again changes nothing.
    before = _footprint(project)
    assert demo_cycle.Driver(RECIPE).next_step() is None
    assert demo_cycle.build(RECIPE, poll=0.1, timeout=30, log=lines.append) < 5
    assert _footprint(project) == before
    # The untouched project stays next to it.
    untouched = project.__class__.objects.get(name="Support ticket routing")
    assert not untouched.jobs.exists()
    assert untouched.cycles.get(number=1).plays.get(number=1).status == Play.Status.READY
    return project


def test_a_failing_build_is_logged_and_never_raises_into_the_server(monkeypatch):
    """`demo`'s background thread: whatever stops the build is logged in one clear line, and the thread ends
    quietly (the web server and the worker go on)."""
    def broken(**kwargs):
        raise demo_cycle.DemoCycleError("evaluate job #8 on Play 5 failed: out of memory")

    monkeypatch.setattr(demo_cycle, "build", broken)
    lines = []
    demo_cycle.drive_in_background(log=lines.append)
    assert lines == ["STOPPED: DemoCycleError: evaluate job #8 on Play 5 failed: out of memory — the server and "
                     "the worker go on; restart `demo` to resume"]
