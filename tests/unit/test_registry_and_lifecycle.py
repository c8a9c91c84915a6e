"""The play registry, typed hand-offs between plays, jobs the system starts, and the cycle's lifecycle."""
from dataclasses import dataclass

import pytest
from django.conf import settings

from apps.audit.models import AuditEvent
from apps.core import registry
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.jobs.kinds import JobKind
from apps.jobs.models import Job
from apps.jobs.services import job_enqueue
from apps.playbook.models import Cycle, GateDecision, Play, Project
from apps.playbook.plays import Check, PlayModule
from apps.playbook.selectors import cycle_inputs
from apps.playbook.services import (cycle_open_retrain, gate_decide, play_submit, play_update_deliverable,
                                    project_close)
from apps.training.play1 import Play1Outputs
from apps.training.play4 import Play4Outputs
from tests.helpers import submitted_play1, use_plays, walk_past

pytestmark = pytest.mark.django_db


def test_every_play_has_a_home_outside_the_core():
    homes = {number: settings.PLAYBOOK_PLAYS[number].rsplit(".", 1)[0] for number in range(1, 7)}
    assert homes == {1: "apps.training", 2: "apps.training", 3: "apps.datasets", 4: "apps.training",
                     5: "apps.evaluation", 6: "apps.monitoring"}
    for number in range(1, 7):
        module = registry.play_module(number)
        assert isinstance(module, PlayModule) and module.number == number
    # Job kinds are registered by the plays that run them.
    kinds = registry.job_kinds()
    assert {name: number for name, (number, _) in kinds.items()} == {
        "baseline": 1, "bakeoff": 2, "seal": 3, "compare_production": 3, "prepare_audit": 3, "frozen_head": 4, "unfreeze": 4,
        "retrain": 4, "evaluate": 5, "signoff_record": 5, "package": 6, "drift_check": 6}
    with pytest.raises(ValidationFailed, match="There is no job kind 'nonsense'"):
        registry.job_kind("nonsense")


def test_approval_freezes_play1s_typed_hand_off(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    assert cycle_inputs(play.cycle) == {}  # nothing is handed on before the gate approves
    decision = gate_decide(actor=team["so"], play=play, decision="approve")
    assert decision.outputs["version"] == 1 and decision.outputs["data"]["metric"] == "macro_f1"
    handed = cycle_inputs(play.cycle)[1]
    assert isinstance(handed, Play1Outputs)
    assert handed.target == 0.99 and handed.min_margin == 0.02 and handed.best_baseline in handed.baselines
    assert handed.best_baseline_value == handed.baselines[handed.best_baseline]
    event = AuditEvent.objects.filter(action="gate.approve").latest("id")
    assert event.after["outputs"]["data"]["metric"] == "macro_f1"


def test_a_rejection_hands_nothing_on(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    decision = gate_decide(actor=team["so"], play=play, decision="reject", reason="Target too loose.")
    assert decision.outputs == {} and cycle_inputs(play.cycle) == {}


def test_the_system_starts_a_job_without_a_person_and_the_trail_says_so(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    job = job_enqueue("baseline", play, {"folds": 3})
    assert job.created_by is None and job.started_by_system and job.queue == "default"
    assert job.params["dataset"] == play.deliverable["baseline_dataset"]  # the kind's own parameter check ran
    event = AuditEvent.objects.filter(action="job.queued", object_id=str(job.pk)).get()
    assert event.actor is None and event.actor_label == "system"
    with pytest.raises(Conflict, match="already queued or running"):
        job_enqueue("baseline", play, {})
    with pytest.raises(ValidationFailed, match="folds"):
        job_enqueue("baseline", play, {"folds": "many"})
    assert Job.objects.filter(created_by=None).count() == 1  # the refused requests wrote nothing


class _ApprovedCheckpoint(PlayModule):
    """Play 4 waved through, handing on a checkpoint (its own tests train real ones)."""

    number = 4
    Outputs = Play4Outputs

    def clean(self, play, updates):
        return dict(updates)

    def checks(self, play):
        return [Check("ok", "ok", True)]

    def outputs(self, play):
        return Play4Outputs(checkpoint_job=7, kind="unfreeze", checkpoint_path="artifacts/checkpoints/job-7",
                            checkpoint_sha256="a" * 64, candidate=None, split_set=None, val={"macro_f1": 0.9})


def _through_play4(team, sample_upload, monkeypatch):
    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    walk_past(team, play1, (2, 3), monkeypatch)
    use_plays(monkeypatch, {4: _ApprovedCheckpoint()})
    play4 = Play.objects.get(cycle=play1.cycle, number=4)
    play4 = play_update_deliverable(actor=team["mo"], play=play4, deliverable={})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")
    return play1.cycle


def test_a_retrain_opens_a_new_cycle_at_play3_that_inherits_scope_and_checkpoint(team, sample_upload, monkeypatch):
    project = team["project"]
    with pytest.raises(Conflict, match="no Play 4 gate has approved"):
        cycle_open_retrain(actor=None, project=project, reason="Input drift above threshold")
    first = _through_play4(team, sample_upload, monkeypatch)
    with pytest.raises(NotAllowed):
        cycle_open_retrain(actor=team["so"], project=project, reason="I think it drifted")
    with pytest.raises(ValidationFailed, match="why"):
        cycle_open_retrain(actor=None, project=project, reason="  ")
    second = cycle_open_retrain(actor=None, project=project, reason="Input drift above threshold",
                                signal={"kind": "input_drift", "auc": 0.81})
    first.refresh_from_db()
    assert first.status == Cycle.Status.CLOSED and first.closed_at is not None
    assert second.number == 2 and second.status == Cycle.Status.ACTIVE
    assert second.trigger == {"kind": "retrain", "by": "system", "from_cycle": 1,
                              "signal": {"kind": "input_drift", "auc": 0.81}}
    assert [p.status for p in second.plays.order_by("number")] == [
        "inherited", "inherited", "ready", "locked", "locked", "locked"]
    # Plays 5 and 6 of the first cycle were never reached: skipped with the cycle.
    assert list(first.plays.filter(number__gte=5).values_list("status", flat=True)) == ["skipped", "skipped"]
    inherited = cycle_inputs(second)
    assert inherited[1].metric == "macro_f1" and inherited[4].checkpoint_job == 7
    opened = AuditEvent.objects.filter(action="cycle.opened").latest("id")
    assert opened.actor is None and opened.actor_label == "system" and opened.after["inherited_plays"] == [1, 2]
    # A person may open one too (a model or data owner), and the trail names them.
    third = cycle_open_retrain(actor=team["do"], project=project, reason="New labelled data arrived")
    assert third.number == 3 and third.trigger["by"] == "do"
    assert Cycle.objects.filter(project=project, status="active").count() == 1


def test_closing_a_project_needs_the_right_role_a_reason_and_an_outcome_it_earned(team, sample_upload):
    project = team["project"]
    submitted_play1(team, sample_upload)
    with pytest.raises(NotAllowed):
        project_close(actor=team["do"], project=project, outcome="abandoned", reason="Not needed")
    with pytest.raises(ValidationFailed, match="reason"):
        project_close(actor=team["mo"], project=project, outcome="abandoned", reason="")
    with pytest.raises(Conflict, match="Play 5"):
        project_close(actor=team["mo"], project=project, outcome="shipped", reason="Done")
    with pytest.raises(Conflict, match="ship the baseline"):
        project_close(actor=team["mo"], project=project, outcome="baseline_shipped", reason="Done")
    assert Project.objects.get(pk=project.pk).status == "active"
    project = project_close(actor=team["mo"], project=project, outcome="abandoned",
                            reason="The stakeholder withdrew the request.")
    assert project.status == Project.Status.ABANDONED and project.closed_reason.startswith("The stakeholder")
    assert project.cycles.get().status == "closed"
    assert set(Play.objects.filter(cycle__project=project).values_list("status", flat=True)) == {"skipped"}
    with pytest.raises(Conflict, match="already closed"):
        project_close(actor=team["mo"], project=project, outcome="abandoned", reason="again")


def test_shipping_the_baseline_at_play1_closes_the_project_with_its_hand_off(team, sample_upload):
    play = submitted_play1(team, sample_upload, target=0.05)
    decision = gate_decide(actor=team["so"], play=play, decision="ship_baseline")
    assert decision.decision == GateDecision.Decision.SHIP_BASELINE and decision.outputs["data"]["meets_target"]
    project = Project.objects.get(pk=team["project"].pk)
    assert project.status == Project.Status.CLOSED_BASELINE_SHIPPED and project.closed_at is not None
    assert project.cycles.get().status == "closed"


def test_the_broker_keeps_its_control_files_under_the_data_folder(tmp_path):
    import subprocess
    import sys

    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
            "from django.conf import settings; print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['control_folder'])")
    env = {"PATH": "/usr/bin:/bin", "PLAYBOOK_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=settings.BASE_DIR, check=True).stdout.strip()
    assert out == str(tmp_path / "broker" / "control") and (tmp_path / "broker" / "control").is_dir()


@dataclass(frozen=True)
class _VerdictOutputs:
    verdict: str
    delta: float


def _clean_verdict_params(play, params):
    if set(params) - {"margin"}:
        raise ValidationFailed("only margin")
    return {"margin": float(params.get("margin", 0.02))}


def _run_verdict(job, report):
    from apps.jobs.kinds import JobOutcome
    from apps.playbook.services import play_record_evidence

    report(0, {"delta": 0.05}, 1.0)
    evidence = {"job": job.pk, "delta": 0.05, "margin": job.params["margin"]}
    return JobOutcome({"delta": 0.05}, record=lambda job: play_record_evidence(
        actor="worker", play=job.play, key="verdict", value=evidence))


class _PluggedPlay5(PlayModule):
    """A Play 5 written only as a module: its deliverable, a job kind, its checks and its hand-off."""

    number = 5
    keys = ("recommendation",)
    Outputs = _VerdictOutputs
    job_kinds = {"verdict": JobKind("verdict", "Verdict", run=_run_verdict, clean=_clean_verdict_params)}

    def checks(self, play):
        measured = "verdict" in play.evidence
        return [Check("measured", "Delta measured", measured),
                Check("recommended", "Recommendation written", bool(play.deliverable.get("recommendation")))]

    def outputs(self, play):
        return _VerdictOutputs(verdict=play.deliverable["recommendation"], delta=play.evidence["verdict"]["delta"])


def test_a_play_plugs_in_through_its_module_alone(team, sample_upload, monkeypatch):
    """What the Play 5 and 6 issues will do: register a module; the core's pages, API, jobs and hand-offs
    serve it without a change of their own."""
    from django.test import Client

    from apps.jobs.runner import job_execute
    from apps.playbook.services import play_job_start
    from tests.conftest import PASSWORD

    cycle = _through_play4(team, sample_upload, monkeypatch)
    use_plays(monkeypatch, {5: _PluggedPlay5()})
    play5 = Play.objects.get(cycle=cycle, number=5)
    assert play5.status == "ready"
    with pytest.raises(ValidationFailed, match="does not run baseline jobs"):
        play_job_start(actor=team["so"], play=play5, kind="baseline", params={})
    job = play_job_start(actor=team["so"], play=play5, kind="verdict", params={"margin": 0.03})
    assert job_execute(job.pk) == "succeeded"
    play5 = play_update_deliverable(actor=team["so"], play=Play.objects.get(pk=play5.pk),
                                    deliverable={"recommendation": "ship the model"})
    page = Client()
    assert page.login(username="so", password=PASSWORD)
    assert "Delta measured" in page.get(f"/plays/{play5.pk}/").content.decode()
    assert page.get(f"/api/plays/{play5.pk}/").json()["evidence"]["verdict"]["margin"] == 0.03
    play_submit(actor=team["so"], play=play5)
    gate_decide(actor=team["so2"], play=play5, decision="approve")  # not the person who ran it
    assert cycle_inputs(cycle)[5] == _VerdictOutputs(verdict="ship the model", delta=0.05)
    assert Play.objects.get(cycle=cycle, number=6).status == "ready"
