"""Races on PostgreSQL with real connections: two (or fifty) threads released together by a barrier, each on
its own database connection, call the same service on the same row. Exactly one wins; the loser gets a
Conflict (or a None / "skipped" from the worker side) and writes nothing, not even an audit event.

Each race is made real: a function inside the service's critical section (between reading the state and
writing it) is slowed down a few milliseconds, so without the lock the two calls would interleave there.

What each race guards (every audited service takes the audit chain's advisory lock before any row lock, so
the chain lock alone already serialises them; a row lock removed on its own goes unnoticed, both together
fail the race):
  gate decisions, two approvals, submits   _locked_play (chain lock + the play's row)
  job starts                               the chain lock in job_enqueue (its row lock finds no row to lock)
  job claims                               job_claim's conditional update (queued -> running)
  label-audit resolutions                  the chain lock + the audit's row in label_audit_resolve
  promotions                               _lock_project + the deployment's row in deployment_promote
  fifty appends                            the chain's advisory lock in audit_record
  lock order                               the chain lock taken before the project's, the play's or the
                                           label audit's row (else PostgreSQL reports a deadlock)
"""
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.audit.verification import verify_chain
from apps.core import registry
from apps.core.errors import Conflict
from apps.jobs import services as job_services
from apps.jobs.kinds import JobKind, JobOutcome
from apps.jobs.models import Job
from apps.playbook import services as play_services
from apps.playbook.models import GateDecision, Play, Project
from tests.conftest import SAMPLE_CSV
from tests.helpers import passing_play, use_plays

pytestmark = pytest.mark.django_db(transaction=True)

HOLD = 0.05  # seconds a slowed step holds its locks: long enough for the other thread to arrive


@pytest.fixture(autouse=True)
def _postgres_and_no_messages(settings, tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.fail("concurrency tests need PostgreSQL: run them with `python manage.py testsuite`")
    settings.DATA_DIR = tmp_path / "data"
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"
    monkeypatch.setattr(job_services, "_send", lambda job_id, queue: None)  # no Celery message leaves


def race(*calls, timeout: float = 60):
    """Run each call in its own thread (its own connection), all released at once. Returns one
    ("ok", value) or ("error", exception) per call, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except Exception as exc:  # the outcome is what the test asserts
            results[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing call never returned (a lock leaked?)"
    return results


def one_winner(results, loser=Conflict):
    """The racing calls had exactly one winner and every other call lost with ``loser``; returns the
    winner's value."""
    won = [value for outcome, value in results if outcome == "ok"]
    lost = [value for outcome, value in results if outcome == "error"]
    assert len(won) == 1, f"expected one winner, got {results}"
    assert all(isinstance(exc, loser) for exc in lost), f"a call failed otherwise: {lost}"
    return won[0]


def slowed(call, seconds: float = HOLD):
    def slow(*args, **kwargs):
        time.sleep(seconds)
        return call(*args, **kwargs)

    return slow


def new_events(since: int, action: str | None = None):
    events = AuditEvent.objects.filter(pk__gt=since)
    return events.filter(action=action) if action else events


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def slow_plays(monkeypatch):
    """Plays 1 and 2 with stand-in gates whose checks (read by play_submit and gate_decide between the
    state guard and the write) take HOLD seconds."""
    modules = {}
    for number in (1, 2):
        module = passing_play(number)
        module.checks = slowed(module.checks)
        modules[number] = module
    use_plays(monkeypatch, modules)
    return modules


def _in_progress_play1(team):
    return play_services.play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={})


# --- plays and gates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_decisions_on_one_gate_make_exactly_one(team, slow_plays, second):
    play = _in_progress_play1(team)
    play_services.play_submit(actor=team["mo"], play=play)
    since = last_event_id()
    results = race(
        lambda: play_services.gate_decide(actor=team["so"], play=play, decision="approve"),
        lambda: play_services.gate_decide(actor=team["so2"], play=play, decision=second, reason="Not yet."),
    )
    record = one_winner(results)
    assert list(GateDecision.objects.filter(play=play).values_list("pk", flat=True)) == [record.pk]
    decided = new_events(since).filter(action__startswith="gate.")
    assert decided.count() == 1 and decided.get().after["decision_id"] == record.pk
    play.refresh_from_db()
    assert play.status == (Play.Status.APPROVED if record.decision == "approve" else Play.Status.REJECTED)
    assert verify_chain().ok


def test_two_approvals_where_two_are_needed_make_the_decision_take_effect_once(team, slow_plays):
    """Under a two-approval gate the second approval makes the decision take effect: two sign-off owners
    approving together must not both count themselves first (the play would stay submitted forever)."""
    slow_plays[1].approvals_needed = lambda play, decision: 2
    play = _in_progress_play1(team)
    play_services.play_submit(actor=team["mo"], play=play)
    since = last_event_id()
    results = race(lambda: play_services.gate_decide(actor=team["so"], play=play, decision="approve"),
                   lambda: play_services.gate_decide(actor=team["so2"], play=play, decision="approve"))
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    assert GateDecision.objects.filter(play=play, decision="approve").count() == 2
    assert new_events(since, "gate.approval_recorded").count() == 1
    took_effect = new_events(since, "gate.approve")
    assert took_effect.count() == 1 and took_effect.get().after["approvals"] == 2
    assert Play.objects.get(pk=play.pk).status == Play.Status.APPROVED


def test_two_submits_of_one_play_make_one_submission(team, slow_plays):
    play = _in_progress_play1(team)
    since = last_event_id()
    results = race(lambda: play_services.play_submit(actor=team["mo"], play=play),
                   lambda: play_services.play_submit(actor=team["mo"], play=play))
    one_winner(results)
    assert new_events(since, "play.submitted").count() == 1
    assert new_events(since).count() == 1  # the loser wrote nothing at all
    assert Play.objects.get(pk=play.pk).status == Play.Status.SUBMITTED


# --- jobs --------------------------------------------------------------------------------------------


@pytest.fixture
def probe_runs(monkeypatch):
    """A "probe" job kind on plays: its parameter check (run inside job_enqueue's critical section) and its
    run each take HOLD seconds; returns the ids of the jobs it ran, one entry per run."""
    runs = []

    def probe(job, report):
        runs.append(job.pk)
        time.sleep(HOLD)  # the run outlasts the other worker's attempt to claim
        return JobOutcome({"ran": True})

    probe_kind = JobKind("probe", "Probe", run=probe, clean=slowed(lambda subject, params: {}))
    real = registry.job_kind
    monkeypatch.setattr(registry, "job_kind", lambda name: probe_kind if name == "probe" else real(name))
    return runs


def test_two_starts_of_one_job_queue_one(team, probe_runs):
    since = last_event_id()
    results = race(lambda: job_services.job_enqueue("probe", team["play1"], {}),
                   lambda: job_services.job_enqueue("probe", team["play1"], {}))
    job = one_winner(results)
    assert list(Job.objects.filter(kind="probe")) == [job]
    assert new_events(since).count() == 1 and new_events(since, "job.queued").get().object_id == str(job.pk)


def test_two_workers_claiming_one_job_run_it_once(team, probe_runs):
    from apps.jobs.runner import job_execute

    runs = probe_runs
    job = job_services.job_enqueue("probe", team["play1"], {})
    since = last_event_id()
    results = race(lambda: job_execute(job.pk), lambda: job_execute(job.pk))
    assert sorted(value for _, value in results) == ["skipped", "succeeded"], results
    assert runs == [job.pk]
    assert new_events(since, "job.started").count() == 1
    assert new_events(since, "job.succeeded").count() == 1
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


# --- label audit -------------------------------------------------------------------------------------


def test_two_resolutions_of_one_disagreement_make_one(team, monkeypatch):
    from apps.datasets import curation
    from apps.datasets.models import LabelAuditItem
    from apps.datasets.services import dataset_upload
    from apps.jobs.runner import job_execute

    dataset = dataset_upload(actor=team["do"], project=team["project"],
                             upload=SimpleUploadedFile("labels.csv", SAMPLE_CSV.encode()))
    audit = curation.label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    prepare = Job.objects.get(kind="prepare_audit", subject_id=str(audit.pk))
    assert job_execute(prepare.pk) == "succeeded"
    items = list(audit.items.order_by("position"))
    other = {label: next(x for x in dataset.labels if x != label) for label in dataset.labels}
    for n, item in enumerate(items):  # the auditor disagrees on the first two items
        answer = other[item.original_label] if n < 2 else item.original_label
        curation.label_audit_answer(actor=team["so"], audit=audit, item_id=item.pk, label=answer)
    disputed = items[0]
    monkeypatch.setattr(LabelAuditItem, "save", slowed(LabelAuditItem.save))
    since = last_event_id()
    results = race(
        lambda: curation.label_audit_resolve(actor=team["do"], audit=audit, item_id=disputed.pk, action="accept"),
        lambda: curation.label_audit_resolve(actor=team["do"], audit=audit, item_id=disputed.pk, action="keep",
                                             note="The original label stands."),
    )
    one_winner(results)
    resolved = new_events(since, "label_audit.resolved")
    assert resolved.count() == 1 and new_events(since).count() == 1
    disputed.refresh_from_db()
    assert disputed.resolution == resolved.get().after["resolution"]


# --- Play 6 promotions -------------------------------------------------------------------------------


def _challenger(team):
    """A package and its challenger deployment. The package's provenance (a job, an evaluation) is written
    straight to the tables: building a real one trains and evaluates a model, and these tests are about the
    promotion, which goes through its service."""
    from apps.datasets.models import SplitSet
    from apps.datasets.services import dataset_upload
    from apps.evaluation.models import Evaluation
    from apps.jobs.models import Artifact
    from apps.monitoring.models import Package
    from apps.monitoring.services import deployment_create

    project, play = team["project"], team["play1"]
    dataset = dataset_upload(actor=team["do"], project=project,
                             upload=SimpleUploadedFile("labels.csv", SAMPLE_CSV.encode()))
    split_set = SplitSet.objects.create(dataset=dataset, ratios={"train": 0.7, "val": 0.15, "test": 0.15}, seed=0,
                                        sealed_by=team["do"])
    evaluate = Job.objects.create(project=project, play=play, kind="evaluate", status=Job.Status.SUCCEEDED)
    predictions = Artifact.objects.create(job=evaluate, kind="predictions", path="p.jsonl", sha256="a" * 64)
    evaluation = Evaluation.objects.create(
        project=project, play=play, job=evaluate, checkpoint_sha256="b" * 64, split_set=split_set,
        test_split_sha256="c" * 64, metric="macro_f1", direction="higher", margin=0.02, reference="baseline",
        verdict="better", report={}, predictions=predictions)
    packaging = Job.objects.create(project=project, play=play, kind="package", status=Job.Status.SUCCEEDED)
    package = Package.objects.create(project=project, play=play, job=packaging, evaluation=evaluation,
                                     shipped="candidate", model_name="candidate", path="packages/x",
                                     sha256="d" * 64, label_names=dataset.labels)
    return deployment_create(actor=team["mo"], package=package, reason="Try it beside production.")


def test_two_promotions_of_one_deployment_make_one_production(team, monkeypatch):
    from apps.monitoring import services as deploy_services
    from apps.monitoring.models import Deployment, StageChange

    deployment = _challenger(team)
    monkeypatch.setattr(deploy_services, "_take_production", slowed(deploy_services._take_production))
    since = last_event_id()
    results = race(
        lambda: deploy_services.deployment_promote(actor=team["so"], deployment=deployment, reason="It is better."),
        lambda: deploy_services.deployment_promote(actor=team["so2"], deployment=deployment, reason="Ship it."),
    )
    one_winner(results)
    assert list(Deployment.objects.filter(project=team["project"], stage=Deployment.Stage.PRODUCTION)) == [deployment]
    assert StageChange.objects.filter(deployment=deployment, action="promote").count() == 1
    assert new_events(since, "deployment.promote").count() == 1 and new_events(since).count() == 1


# --- the audit chain ---------------------------------------------------------------------------------


def test_fifty_parallel_appends_make_one_chain_that_verifies(monkeypatch):
    from apps.audit import services as audit_services

    # Reading the chain's last hash and inserting the event after it are the critical section.
    monkeypatch.setattr(audit_services, "event_hash", slowed(audit_services.event_hash, 0.005))
    since = last_event_id()

    def append(n):
        with transaction.atomic():
            return audit_record(actor="system", action="test.appended", after={"n": n}).pk

    results = race(*[lambda n=n: append(n) for n in range(50)])
    assert all(outcome == "ok" for outcome, _ in results), [v for o, v in results if o == "error"][:3]
    events = list(new_events(since).order_by("id"))
    assert len(events) == 50 and sorted(e.after["n"] for e in events) == list(range(50))
    assert [e.pk for e in events] == list(range(events[0].pk, events[0].pk + 50))  # 50 consecutive numbers
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:]))
    report = verify_chain()
    assert report.ok, report.problem


# --- lock order --------------------------------------------------------------------------------------


def held_by(name: str, module, attr: str, monkeypatch) -> threading.Event:
    """Make ``module.attr``, when the thread named ``name`` first calls it (inside a service, its locks
    taken), set the returned event and then hold those locks a while."""
    holding = threading.Event()
    real = getattr(module, attr)

    def holding_call(*args, **kwargs):
        if threading.current_thread().name == name and not holding.is_set():
            holding.set()
            time.sleep(4 * HOLD)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, holding_call)
    return holding


def in_order(leader: str, holding: threading.Event, **calls):
    """The calls for race(), each in a thread named after it: the leader's starts at once, the others once
    the leader holds its locks."""
    def named(name, call):
        def run():
            threading.current_thread().name = name
            if name != leader:
                assert holding.wait(30), f"{leader} never reached the point where it holds its locks"
            return call()
        return run

    return [named(name, call) for name, call in calls.items()]


@pytest.mark.parametrize("leader", ["set_solo", "deliverable"])
def test_project_lock_and_chain_lock_are_taken_in_one_order(team, slow_plays, monkeypatch, leader):
    """An admin's change to the project (its row locked) and work on one of its plays (the play's row joined
    to its project, locked) run together, each one started while the other holds its locks. Two services
    that took the project's row and the audit chain's lock in opposite orders would deadlock here (and
    PostgreSQL would fail one of them)."""
    play = _in_progress_play1(team)
    holding = held_by(leader, play_services, "audit_record", monkeypatch)
    results = race(*in_order(
        leader, holding,
        set_solo=lambda: play_services.project_set_solo(actor=team["admin"], project=team["project"], solo=True),
        deliverable=lambda: play_services.play_update_deliverable(actor=team["mo"], play=play,
                                                                  deliverable={"note": "again"}),
    ))
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    assert Project.objects.get(pk=team["project"].pk).solo_mode
    assert Play.objects.get(pk=play.pk).deliverable["note"] == "again"
    assert verify_chain().ok


@pytest.mark.parametrize("leader", ["cancel", "worker"])
def test_cancelling_an_audit_while_the_worker_fills_it_in_does_not_deadlock(team, monkeypatch, leader):
    """The data owner cancels a label audit (the audit's row, then the chain) while the worker that prepared
    its sample succeeds (the chain, then the audit's row, to fill it in). Whichever goes first, both finish
    and the audit ends cancelled; the worker fills in the sample only if it went first."""
    from apps.datasets import curation
    from apps.datasets.models import LabelAudit
    from apps.datasets.services import dataset_upload

    dataset = dataset_upload(actor=team["do"], project=team["project"],
                             upload=SimpleUploadedFile("labels.csv", SAMPLE_CSV.encode()))
    audit = curation.label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    job = job_services.job_claim(job_id=Job.objects.get(kind="prepare_audit", subject_id=str(audit.pk)).pk)
    outcome = curation.prepare_audit_run(job, None)  # the sample is ranked; the worker is about to record it
    if leader == "cancel":
        holding = held_by("cancel", curation, "audit_record", monkeypatch)
    else:
        holding = held_by("worker", curation, "_open_prepared", monkeypatch)
    results = race(*in_order(
        leader, holding,
        cancel=lambda: curation.label_audit_cancel(actor=team["do"], audit=audit),
        worker=lambda: job_services.job_succeed(job_id=job.pk, outcome=outcome),
    ))
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    audit = LabelAudit.objects.get(pk=audit.pk)
    assert audit.status == LabelAudit.Status.CANCELLED
    assert audit.items.exists() == (leader == "worker")
    assert Job.objects.get(pk=job.pk).result["status"] == ("open" if leader == "worker" else "cancelled")
    assert verify_chain().ok


@pytest.mark.parametrize("leader", ["upload", "deliverable"])
def test_an_upload_beside_work_on_a_play_does_not_deadlock(team, slow_plays, monkeypatch, leader):
    """A new dataset's row references its project: when the upload commits, PostgreSQL checks that
    reference under a share lock on the project's row, with the audit chain's lock held since the upload's
    event. Work on a play locks that row (joined to the play) too, so it must take the chain first: one
    that locked the row and then waited for the chain would deadlock with the upload's commit."""
    from apps.audit import services as audit_services
    from apps.datasets import services as dataset_services
    from apps.datasets.models import Dataset

    play = _in_progress_play1(team)
    if leader == "upload":  # the upload holds the chain (its event is being hashed) until it commits
        holding = held_by("upload", audit_services, "event_hash", monkeypatch)
    else:
        holding = held_by("deliverable", play_services, "audit_record", monkeypatch)
    results = race(*in_order(
        leader, holding,
        upload=lambda: dataset_services.dataset_upload(
            actor=team["do"], project=team["project"], upload=SimpleUploadedFile("labels.csv", SAMPLE_CSV.encode())),
        deliverable=lambda: play_services.play_update_deliverable(actor=team["mo"], play=play,
                                                                  deliverable={"note": "again"}),
    ))
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    assert Dataset.objects.filter(project=team["project"]).count() == 1
    assert Play.objects.get(pk=play.pk).deliverable["note"] == "again"
    assert verify_chain().ok
