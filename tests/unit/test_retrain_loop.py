"""The retrain loop after a model is in production, on a tiny random BERT: the retrain fine-tunes from the
production checkpoint, Play 5 compares the challenger with the model in production on the recent test
slice and on the golden set (the previous test set), and the sign-off owner's approval is the promotion:
the package job deploys the challenger as production on that approval's authority, and the replaced
deployment stays one rollback away."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.core import registry
from apps.core.errors import NotAllowed
from apps.datasets.models import Split, SplitRead, SplitSet
from apps.jobs.models import Job
from apps.monitoring.models import Deployment, Package
from apps.monitoring.services import deployment_rollback
from apps.playbook.models import GateDecision, Play
from apps.playbook.selectors import production_model
from apps.playbook.services import cycle_open_retrain, gate_decide, play_job_start, play_submit, play_update_deliverable
from tests.helpers import run_job
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import ANSWERS, _evaluate, reach_play5
from tests.unit.test_play6 import _approved, _live, _package

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-loop"), layers=2, seed=0)


def _with_golden(split_set: SplitSet, actor) -> SplitSet:
    """A retrain cycle's sealed splits as Play 3 hands them on: train and validation carried, a recent test
    slice, and the previous test set kept as the golden set. (Here the recent slice is the previous test
    rows again, so the golden figures can be checked against cycle 1's.)"""
    carried = SplitSet.objects.create(dataset=split_set.dataset, ratios=split_set.ratios, seed=split_set.seed,
                                      leakage=split_set.leakage, sealed_by=actor)
    for split in split_set.splits.all():
        Split.objects.create(split_set=carried, name=split.name, rows=split.rows, sha256=split.sha256,
                             path=split.path, label_counts=split.label_counts)
    test = split_set.splits.get(name="test")
    Split.objects.create(split_set=carried, name="golden", rows=test.rows, sha256=test.sha256, path=test.path,
                         label_counts=test.label_counts)
    return carried


def test_the_loop_retrains_from_production_compares_on_both_test_sets_and_the_approval_promotes(
        team, sample_upload, monkeypatch, tiny_model):
    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    play6 = _approved(team, state)
    first = _live(team, _package(play6))
    play_update_deliverable(actor=team["mo"], play=play6, deliverable={
        "live_metric_floor": 0.3, "drift_thresholds": {"text": 0.7}, "monitoring_note": "The data owner reads drift."})
    cycle1_eval = first.package.evaluation
    serving = production_model(team["project"])
    assert (serving.deployment, serving.checkpoint_job) == (first.pk, state["frozen"].pk)

    cycle = cycle_open_retrain(actor=team["mo"], project=team["project"], reason="Feedback says it slipped.")
    _with_golden(state["split_set"], team["do"])
    play3 = cycle.plays.get(number=3)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={})
    play_submit(actor=team["do"], play=play3)
    gate_decide(actor=team["so"], play=play3, decision="approve")

    # Play 4: the retrain's default source is the production checkpoint, and the page offers it.
    play4 = cycle.plays.get(number=4)
    retrain = play_job_start(actor=team["mo"], play=play4, kind="retrain", params={"max_stages": 1})
    assert retrain.params["from_job"] == state["frozen"].pk
    assert run_job(retrain.pk).status == "succeeded"
    page = Client()
    page.force_login(team["mo"])
    html = page.get(f"/plays/{play4.pk}/").content.decode()
    assert f"Retrain from job #{state['frozen'].pk}" in html and "production checkpoint" in html
    play_update_deliverable(actor=team["mo"], play=play4, deliverable={"checkpoint_job": retrain.pk})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")

    # Play 5: the challenger against production, on the recent slice and on the golden set.
    play5 = cycle.plays.get(number=5)
    evaluation = _evaluate(play5)
    report = evaluation.report
    assert report["reference"] == "production"
    golden = report["golden"]
    assert golden["reference"] == "production" and set(golden["models"]) == set(report["models"])
    # The golden rows are the rows cycle 1 approved the production model on: the same figure, exactly.
    assert golden["models"]["production"]["value"] == pytest.approx(cycle1_eval.report["models"]["candidate"]["value"])
    assert SplitRead.objects.filter(job=evaluation.job, split__name="golden").exists()
    page.force_login(team["so"])
    html = page.get(f"/plays/{play5.pk}/").content.decode()
    assert "still hold on the golden set" in html

    play_update_deliverable(actor=team["so"], play=play5, deliverable={"evaluation": evaluation.pk, **ANSWERS})
    checks = {c.key: c for c in registry.play_module(5).checks(Play.objects.get(pk=play5.pk))}
    assert "golden" in checks and checks["golden"].passed == (golden["delta"]["verdict"] != "worse")
    play_submit(actor=team["so"], play=play5)
    if not checks["golden"].passed:
        pytest.fail(f"the tiny retrain forgot the golden set: {checks['golden'].detail}")
    approval = gate_decide(actor=team["so"], play=play5, decision="approve", reason="Holds on both test sets.")

    # The package job (the system's) deploys the challenger as production on the sign-off owner's approval.
    package = _package(cycle.plays.get(number=6))
    new = Deployment.objects.get(package=package)
    first.refresh_from_db()
    assert (new.stage, new.replaced_id, first.stage) == ("production", first.pk, "retired")
    assert new.created_by is None
    promote = new.history.get(action="promote")
    assert promote.actor is None and promote.decision_id == approval.pk and "so" in promote.by
    event = AuditEvent.objects.filter(action="deployment.promote", object_id=str(new.pk)).get()
    assert event.actor_label == "system" and event.after["approved_by"] == "so"
    assert production_model(team["project"]).deployment == new.pk
    # Cycle 2's Play 6 judges the promoted package, with the thresholds the owners set in cycle 1.
    play6b = Play.objects.get(pk=package.play_id)
    gate = {c.key: c for c in registry.play_module(6).checks(play6b)}
    assert gate["package"].passed and gate["production"].passed, gate
    assert gate["note"].passed and "cycle 1" in gate["note"].detail and "cycle 1" in gate["floor"].detail
    policy = registry.play_module(6).alert_policy(play6b)
    assert policy.performance_floor == 0.3 and policy.thresholds["text"] == 0.7
    api = APIClient()
    api.force_authenticate(team["do"])
    history = api.get(f"/api/deployments/{new.pk}/").json()["history"]
    assert [h["action"] for h in history] == ["deploy", "promote"] and history[1]["decision"] == approval.pk

    # The old one is one click away, for a sign-off owner only.
    with pytest.raises(NotAllowed):
        deployment_rollback(actor=team["mo"], deployment=new, reason="Field complaints.")
    restored = deployment_rollback(actor=team["so"], deployment=new, reason="Field complaints.")
    assert restored.pk == first.pk
    assert production_model(team["project"]).deployment == first.pk


def test_the_first_cycle_is_not_promoted_by_the_system(team, sample_upload, monkeypatch, tiny_model):
    """With nothing in production, the approval only packages: the model owner deploys by hand."""
    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    package = _package(_approved(team, state))
    assert not Deployment.objects.filter(package=package).exists()
    assert production_model(team["project"]) is None
    assert Package.objects.count() == 1 and Job.objects.filter(kind="package").count() == 1
    assert GateDecision.objects.filter(play__number=5, decision="approve").count() == 1
    assert Play.objects.get(cycle=state["cycle"], number=6).status == Play.Status.READY


def test_keeping_production_ends_the_retrain_cycle_and_the_next_trigger_opens_another(
        team, sample_upload, monkeypatch, tiny_model):
    from apps.core.errors import ValidationFailed
    from apps.playbook.models import Cycle

    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    first_eval = _evaluate(state["play"])
    play_update_deliverable(actor=team["so"], play=state["play"], deliverable={"evaluation": first_eval.pk, **ANSWERS})
    play_submit(actor=team["so"], play=state["play"])
    with pytest.raises(ValidationFailed, match="not a decision"):  # nothing in production to keep yet
        gate_decide(actor=team["so"], play=state["play"], decision="keep_production", reason="No.")
    gate_decide(actor=team["so"], play=state["play"], decision="approve", reason="Ship it.")
    first = _live(team, _package(Play.objects.get(cycle=state["cycle"], number=6)))

    cycle = cycle_open_retrain(actor=team["mo"], project=team["project"], reason="Feedback says it slipped.")
    play3 = cycle.plays.get(number=3)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={})
    play_submit(actor=team["do"], play=play3)
    gate_decide(actor=team["so"], play=play3, decision="approve")
    play4 = cycle.plays.get(number=4)
    retrain = play_job_start(actor=team["mo"], play=play4, kind="retrain", params={"max_stages": 1})
    assert run_job(retrain.pk).status == "succeeded"
    play_update_deliverable(actor=team["mo"], play=play4, deliverable={"checkpoint_job": retrain.pk})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")
    play5 = cycle.plays.get(number=5)
    evaluation = _evaluate(play5)
    play_update_deliverable(actor=team["so"], play=play5, deliverable={"evaluation": evaluation.pk, **ANSWERS})
    play_submit(actor=team["so"], play=play5)
    gate_decide(actor=team["so"], play=play5, decision="keep_production",
                reason="The challenger is no better on recent traffic.")

    cycle.refresh_from_db()
    assert cycle.status == Cycle.Status.CLOSED
    assert cycle.plays.get(number=5).status == Play.Status.APPROVED
    assert cycle.plays.get(number=6).status == Play.Status.SKIPPED
    assert not Job.objects.filter(play__cycle=cycle, kind="package").exists()
    first.refresh_from_db()
    assert first.stage == "production" and production_model(team["project"]).deployment == first.pk
    assert AuditEvent.objects.filter(action="gate.keep_production").exists()
    # The monitor's next trigger (the system) opens cycle 3 from the closed cycle 2.
    third = cycle_open_retrain(actor=None, project=team["project"], reason="Live metric under the floor.")
    assert third.number == 3 and third.trigger["from_cycle"] == 2 and third.plays.get(number=3).status == "ready"
    retrain3 = play_job_start(actor=team["mo"], play=third.plays.get(number=4), kind="retrain", params={}) \
        if third.plays.get(number=4).status != "locked" else None
    assert retrain3 is None  # Play 4 waits for Play 3's data
