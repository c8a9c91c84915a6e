"""Play 5 through the services, the worker's code path and the API, on a tiny random BERT candidate: the
evaluation the system starts, its integrity (figures equal scikit-learn's on the stored predictions; the
test split read by evaluation jobs only), the sign-off owner's independence from the training, the four
decisions, two-person approval and the sign-off record."""
import csv
import io
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient
from sklearn.metrics import accuracy_score, f1_score

from apps.audit.models import AuditEvent
from apps.core import registry
from apps.core import storage
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.curation import split_rows
from apps.datasets.models import SplitRead
from apps.datasets.play3 import Play3Outputs
from apps.datasets.services import dataset_upload
from apps.evaluation.models import Evaluation
from apps.jobs.models import Job
from apps.playbook.models import GateDecision, Play
from apps.playbook.plays import Check, PlayModule
from apps.playbook.selectors import cycle_inputs, my_work
from apps.playbook.services import (gate_decide, member_add, play_submit, play_update_deliverable,
                                    project_set_signoff_approvals)
from apps.playbook.services import play_job_start as job_start
from apps.training.candidates import candidate_register
from demo.generate import generate
from tests.helpers import run_job, seal_now, submitted_play1, use_plays, passing_play
from tests.unit.engine.conftest import build_tiny_bert

pytestmark = pytest.mark.django_db

ANSWERS = {"beat_baseline": "It does not beat the refit TF-IDF baseline by the margin.",
           "failures_acceptable": "The regressions are spread over every class; not acceptable for routing.",
           "holds_on_production": "The production estimate is close to the test figure, so it holds there."}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-play5"), layers=2, seed=0)


def _csv_upload(rows, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label", "channel"])  # an extra column: the evaluation slices by it
    writer.writerows((r["text"], r["label"], ("email", "chat")[i % 2]) for i, r in enumerate(rows))
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


class StandInPlay3(PlayModule):
    """Play 3's gate waved through, handing on the project's newest sealed splits (and production
    comparison, if any) as the real module does."""

    number = 3
    Outputs = Play3Outputs

    def __init__(self):
        from apps.datasets.play3 import PLAY

        self.job_kinds = PLAY.job_kinds  # sealing and the production comparison still run

    def clean(self, play, updates):
        return dict(updates)

    def checks(self, play):
        return [Check("ok", "ok", True)]

    def outputs(self, play):
        from apps.datasets.models import ResemblanceReport, SplitSet

        split_set = SplitSet.objects.filter(dataset__project=play.cycle.project).latest("pk")
        report = ResemblanceReport.objects.filter(production__project=play.cycle.project).order_by("-pk").first()
        dataset = split_set.dataset
        return self.Outputs(dataset=dataset.pk, dataset_sha256=dataset.sha256, split_set=split_set.pk,
                            splits={s.name: {"rows": s.rows, "sha256": s.sha256} for s in split_set.splits.all()},
                            label_names=sorted(dataset.labels), resemblance_report=report.pk if report else None)


def reach_play5(people, sample_upload, monkeypatch, model_path, *, rows=240):
    """Plays 1-4 approved on ``people["project"]`` (Play 4 for real: a frozen-base head on ``model_path``,
    trained by so2, who also holds the model owner role, and submitted by mo); Play 5 has just unlocked
    and its evaluation job is queued."""
    play1 = submitted_play1(people, sample_upload)
    gate_decide(actor=people["so"], play=play1, decision="approve")
    sample, _ = generate(seed=3, rows=rows, production_rows=10)
    dataset = dataset_upload(actor=people["do"], project=people["project"], upload=_csv_upload(sample, "tickets.csv"))
    split_set = seal_now(people["do"], dataset, train=0.6, val=0.2, test=0.2, seed=1)
    use_plays(monkeypatch, {2: passing_play(2), 3: StandInPlay3()})
    for number, owner in ((2, people["mo"]), (3, people["do"])):
        play = Play.objects.get(cycle=play1.cycle, number=number)
        play_update_deliverable(actor=owner, play=play, deliverable={})
        play_submit(actor=owner, play=play)
        gate_decide(actor=people["so"], play=play, decision="approve")
    member_add(actor=people["mo"], project=people["project"], username="so2", role="model_owner")
    candidate = candidate_register(actor=people["mo"], project=people["project"], name="tiny", source=str(model_path),
                                   licence="MIT", domain_rating=2, latency_budget_ms=100, memory_budget_mb=100)
    play4 = Play.objects.get(cycle=play1.cycle, number=4)
    frozen = job_start(actor=people["so2"], play=play4, kind="frozen_head",
                       params={"candidate": candidate.pk, "split_set": split_set.pk, "epochs": 3})
    assert run_job(frozen.pk).status == "succeeded"
    play_update_deliverable(actor=people["mo"], play=play4, deliverable={"checkpoint_job": frozen.pk})
    play_submit(actor=people["mo"], play=play4)
    gate_decide(actor=people["so"], play=play4, decision="approve")
    play = Play.objects.get(cycle=play1.cycle, number=5)
    return {"play": play, "play4": play4, "split_set": split_set, "frozen": frozen, "cycle": play1.cycle}


@pytest.fixture
def play5(team, sample_upload, monkeypatch, tiny_model):
    return reach_play5(team, sample_upload, monkeypatch, tiny_model)


def _evaluate(play) -> Evaluation:
    job = Job.objects.filter(play=play, kind="evaluate").latest("created_at")
    done = run_job(job.pk)
    assert done.status == "succeeded", done.error
    return Evaluation.objects.get(job=done)


def _answered_and_submitted(team, play, evaluation):
    play_update_deliverable(actor=team["so"], play=play, deliverable={"evaluation": evaluation.pk, **ANSWERS})
    return play_submit(actor=team["so"], play=play)


def test_the_system_starts_the_evaluation_and_every_figure_equals_scikit_learn_on_the_stored_predictions(team, play5):
    play = play5["play"]
    assert play.status == Play.Status.READY
    job = Job.objects.get(play=play, kind="evaluate")
    assert job.created_by is None and job.queue == "gpu"
    assert AuditEvent.objects.filter(action="job.queued", object_id=str(job.pk), actor_label="system").exists()
    evaluation = _evaluate(play)
    report = evaluation.report
    assert {"candidate", "majority", "tfidf_logreg"} <= set(report["models"])
    assert report["reference"] in {n for n, m in report["models"].items() if m["kind"] == "baseline"}
    # Every reported metric from the stored predictions, recomputed with scikit-learn.
    path = storage.absolute(evaluation.predictions.path)
    assert storage.file_sha256(path) == evaluation.predictions.sha256
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    test = play5["split_set"].splits.get(name="test")
    assert len(rows) == test.rows == report["rows"]
    truth = [r["label"] for r in rows]
    for name, model in report["models"].items():
        predicted = [r["predictions"][name]["label"] for r in rows]
        assert model["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro",
                                                           labels=report["label_names"], zero_division=0))
        assert model["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert model["ci"][0] <= model["value"] <= model["ci"][1]
    assert evaluation.test_split_sha256 == test.sha256
    # Slices: text-length quartiles and the extra column the upload carried; under 30 rows is "too few".
    assert len(report["slices"]["text length"]) == 4
    assert set(report["slices"]["channel"]) == {"email", "chat"}
    assert all(s["too_few"] == (s["rows"] < 30) for s in report["slices"]["channel"].values())
    assert evaluation.checkpoint_sha256 == cycle_inputs(play.cycle)[4].checkpoint_sha256
    # The read of the test split is recorded, for this job.
    assert SplitRead.objects.filter(split=test, job=job).exists()
    # Reproducible with the seed: a re-run gives the same intervals.
    again = job_start(actor=team["so"], play=play, kind="evaluate", params={})
    second = Evaluation.objects.get(job=run_job(again.pk))
    assert second.report["delta"]["ci"] == report["delta"]["ci"]
    assert second.predictions.sha256 == evaluation.predictions.sha256


def test_the_test_split_is_read_only_by_evaluation_jobs(team, play5):
    test = play5["split_set"].splits.get(name="test")
    with pytest.raises(NotAllowed, match="Only evaluation and packaging jobs"):
        split_rows(test, job=play5["frozen"], purpose="training")
    with pytest.raises(NotAllowed):
        split_rows(test, purpose="selection")
    # Training read train and validation only.
    assert not SplitRead.objects.filter(split=test, job__kind__in=["frozen_head", "unfreeze", "retrain"]).exists()


def test_nobody_who_trained_the_candidate_decides_through_the_service_the_api_or_the_page(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    # so2 started the frozen-head job the candidate comes from; mo submitted Play 4.
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    for trainer, why in ((team["so2"], "You trained this candidate"), (team["mo"], "You submitted the candidate")):
        with pytest.raises(NotAllowed, match=why):
            gate_decide(actor=trainer, play=play, decision="approve", reason="looks fine")
        api = APIClient()
        api.force_authenticate(trainer)
        response = api.post(f"/api/plays/{play.pk}/decision/", {"decision": "approve", "reason": "ok"}, format="json")
        assert response.status_code == 403, response.content
        page = Client()
        page.force_login(trainer)
        html = page.get(f"/plays/{play.pk}/").content.decode()
        assert 'name="decision"' not in html and why in html
        page.post(f"/plays/{play.pk}/decide/", {"decision": "approve", "reason": "ok"})
    play.refresh_from_db()
    assert play.status == Play.Status.SUBMITTED and not GateDecision.objects.filter(play=play).exists()
    # The portfolio offers the same people the rule lets decide: not the trainer, not Play 4's submitter.
    from apps.playbook.portfolio import portfolio

    [gate] = portfolio().gates
    assert (gate.deciders, gate.approvals_needed) == (["so"], 1)
    # The sign-off owner who trained nothing decides.
    gate_decide(actor=team["so"], play=play, decision="approve", reason="Beats the margin on every slice.")
    play.refresh_from_db()
    assert play.status == Play.Status.APPROVED


def test_approve_hands_the_candidate_to_play6_and_writes_the_signoff_record(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    gate_decide(actor=team["so"], play=play, decision="approve", reason="The evidence supports it.")
    handed = cycle_inputs(play.cycle)[5]
    assert handed.shipped == "candidate" and handed.checkpoint_sha256 == evaluation.checkpoint_sha256
    assert handed.temperature == pytest.approx(evaluation.temperature) and handed.approvals == ["so"]
    assert Play.objects.get(cycle=play.cycle, number=6).status == Play.Status.READY
    record_job = Job.objects.get(play=play, kind="signoff_record")
    assert record_job.created_by is None
    assert run_job(record_job.pk).status == "succeeded"
    evaluation.refresh_from_db()
    pdf = storage.absolute(evaluation.record_pdf.path).read_bytes()
    html = storage.absolute(evaluation.record_html.path).read_text(encoding="utf-8")
    assert pdf.startswith(b"%PDF-")
    for needle in (evaluation.checkpoint_sha256, evaluation.test_split_sha256, evaluation.predictions.sha256,
                   "The evidence supports it.", ANSWERS["failures_acceptable"]):
        assert needle in html
    event = AuditEvent.objects.get(action="evaluation.signoff_record_written")
    assert event.after["pdf"] == evaluation.record_pdf.sha256
    # The API serves it to project members.
    api = APIClient()
    api.force_authenticate(team["mo"])
    response = api.get(f"/api/evaluations/{evaluation.pk}/record.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_ship_the_baseline_hands_the_reference_baseline_to_play6(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    with pytest.raises(ValidationFailed, match="reason"):
        gate_decide(actor=team["so"], play=play, decision="ship_baseline")
    gate_decide(actor=team["so"], play=play, decision="ship_baseline", reason="Not better by the margin.")
    handed = cycle_inputs(play.cycle)[5]
    assert handed.shipped == "baseline" and handed.model == evaluation.reference
    assert handed.checkpoint_sha256 is None
    assert Play.objects.get(cycle=play.cycle, number=6).status == Play.Status.READY
    assert play.cycle.project.status == "active"


def test_reject_to_play4_sends_the_candidate_back_and_a_new_approval_evaluates_again(team, play5):
    play, play4 = play5["play"], play5["play4"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    gate_decide(actor=team["so"], play=play, decision="reject_to_play4", reason="Fails on short tickets.")
    play.refresh_from_db(), play4.refresh_from_db()
    assert play.status == Play.Status.LOCKED and play4.status == Play.Status.REJECTED
    assert "Fails on short tickets." in play4.rejection_reason
    assert 4 not in cycle_inputs(play.cycle)  # the sent-back approval no longer hands anything on
    play_update_deliverable(actor=team["mo"], play=play4, deliverable={})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")
    play.refresh_from_db()
    assert play.status == Play.Status.READY
    assert Job.objects.filter(play=play, kind="evaluate").count() == 2


def test_reject_to_play3_locks_plays_4_and_5_until_the_data_is_approved_again(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    gate_decide(actor=team["so"], play=play, decision="reject_to_play3", reason="The test set is not like production.")
    statuses = dict(Play.objects.filter(cycle=play.cycle).values_list("number", "status"))
    assert statuses[3] == Play.Status.REJECTED and statuses[4] == Play.Status.LOCKED and statuses[5] == Play.Status.LOCKED
    assert AuditEvent.objects.filter(action="play.relocked").count() == 1
    assert AuditEvent.objects.filter(action="play.sent_back").count() == 1


def test_a_two_approval_project_needs_two_distinct_signoff_owners(team, play5):
    play = play5["play"]
    with pytest.raises(NotAllowed):
        project_set_signoff_approvals(actor=team["mo"], project=team["project"], approvals=2)
    with pytest.raises(ValidationFailed):
        project_set_signoff_approvals(actor=team["admin"], project=team["project"], approvals=3)
    project_set_signoff_approvals(actor=team["admin"], project=team["project"], approvals=2)
    member_add(actor=team["mo"], project=team["project"], username="do", role="signoff_owner")
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    # The sign-off owner who submitted Play 5 finds its gate waiting on My work (they decide it too).
    assert play in my_work(team["so"])["gates"] and play in my_work(team["do"])["gates"]
    from apps.playbook.portfolio import as_dict, portfolio

    [gate] = portfolio().gates
    assert (gate.deciders, gate.approvals_needed, gate.approvals_given) == (["do", "so"], 2, [])
    gate_decide(actor=team["so"], play=play, decision="approve", reason="First approval.")
    play.refresh_from_db()
    assert play.status == Play.Status.SUBMITTED
    # The portfolio marks the gate as half approved, and only someone else may give the second approval.
    [gate] = as_dict(portfolio())["gates"]
    assert (gate["deciders"], gate["approvals_needed"], gate["approvals_given"]) == (["do"], 2, ["so"])
    page = Client()
    page.force_login(team["do"])
    assert ("A production approval needs 2 distinct sign-off owners: 1 so far (so)."
            in page.get(f"/plays/{play.pk}/").content.decode())
    assert AuditEvent.objects.filter(action="gate.approval_recorded").count() == 1
    assert 5 not in cycle_inputs(play.cycle)
    with pytest.raises(Conflict, match="already"):
        gate_decide(actor=team["so"], play=play, decision="approve", reason="Again.")
    gate_decide(actor=team["do"], play=play, decision="approve", reason="Second approval.")
    play.refresh_from_db()
    assert play.status == Play.Status.APPROVED
    assert cycle_inputs(play.cycle)[5].approvals == ["so", "do"]
    assert Job.objects.filter(play=play, kind="signoff_record").count() == 1


def test_the_answers_are_required_and_the_evaluation_must_be_this_plays(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    play_update_deliverable(actor=team["so"], play=play, deliverable={"evaluation": evaluation.pk,
                                                                        "beat_baseline": "yes"})
    with pytest.raises(ValidationFailed, match="Where does it fail"):
        play_submit(actor=team["so"], play=play)
    with pytest.raises(ValidationFailed, match="not an evaluation of this play"):
        play_update_deliverable(actor=team["so"], play=play, deliverable={"evaluation": evaluation.pk + 1000})
    with pytest.raises(ValidationFailed, match="must be text"):
        play_update_deliverable(actor=team["so"], play=play, deliverable={"beat_baseline": ["a"]})


def test_the_api_serves_the_report_and_the_predictions_to_signoff_owners_only_each_download_audited(team, play5):
    play = play5["play"]
    evaluation = _evaluate(play)
    api = APIClient()
    api.force_authenticate(team["mo"])
    body = api.get(f"/api/evaluations/{evaluation.pk}/").json()
    for key in ("metric", "direction", "margin", "reference", "models", "delta", "per_class", "slices",
                "calibration", "production", "regressions"):
        assert key in body
    assert set(body["delta"]) >= {"value", "ci", "verdict", "mcnemar"}
    # In reading order, whatever order PostgreSQL's jsonb keeps the keys in.
    assert list(body["per_class"]) == body["label_names"]
    assert list(body["models"])[:2] == ["candidate", body["reference"]]
    assert [name[:2] for name in body["slices"]["text length"]] == ["Q1", "Q2", "Q3", "Q4"]
    assert api.get(f"/api/evaluations/{evaluation.pk}/predictions/").status_code == 403
    assert api.get(f"/api/evaluations/{evaluation.pk}/record.pdf").status_code == 404  # not decided yet
    api.force_authenticate(team["outsider"])
    assert api.get(f"/api/evaluations/{evaluation.pk}/").status_code == 404
    for who in ("so", "admin"):
        api.force_authenticate(team[who])
        before = AuditEvent.objects.filter(action="evaluation.predictions_downloaded").count()
        response = api.get(f"/api/evaluations/{evaluation.pk}/predictions/")
        assert response.status_code == 200
        rows = response.json()["rows"]
        assert len(rows) == evaluation.report["rows"] and set(rows[0]) == {"row", "label", "predictions"}
        assert AuditEvent.objects.filter(action="evaluation.predictions_downloaded").count() == before + 1


def test_in_a_retrain_cycle_the_model_in_production_is_scored_and_is_the_reference(team, play5):
    from apps.playbook.services import cycle_open_retrain

    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    gate_decide(actor=team["so"], play=play, decision="approve", reason="Ship it.")
    run_job(Job.objects.get(play=play, kind="signoff_record").pk)
    second = cycle_open_retrain(actor=team["mo"], project=team["project"], reason="Drift on the new product line.")
    play3 = second.plays.get(number=3)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={})
    play_submit(actor=team["do"], play=play3)
    gate_decide(actor=team["so"], play=play3, decision="approve")
    play4 = second.plays.get(number=4)
    retrain = job_start(actor=team["mo"], play=play4, kind="retrain", params={"max_stages": 1})
    assert run_job(retrain.pk).status == "succeeded"
    play_update_deliverable(actor=team["mo"], play=play4, deliverable={"checkpoint_job": retrain.pk})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")
    report = _evaluate(second.plays.get(number=5)).report
    assert report["models"]["production"]["kind"] == "production"
    assert report["reference"] == "production" and report["reference_kind"] == "production"
    # The same checkpoint on the same sealed test rows: the figure cycle 1 approved, exactly.
    assert report["models"]["production"]["value"] == pytest.approx(evaluation.report["models"]["candidate"]["value"])
    # mo submitted (and trained) the retrained candidate: even as a sign-off owner, mo may not decide it.
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    why = registry.play_module(5).conflict_of_interest(second.plays.get(number=5), team["mo"])
    assert why == "You submitted the candidate at Play 4."


def test_in_solo_mode_the_trainer_decides_only_after_the_recorded_hat_switch(team, play5):
    from apps.playbook.services import project_set_solo

    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    project_set_solo(actor=team["admin"], project=team["project"], solo=True)
    with pytest.raises(NotAllowed, match="switching hats") as refused:
        gate_decide(actor=team["so2"], play=play, decision="approve", reason="Mine, but it holds.")
    assert refused.value.extra == {"needs_hat_switch": True}
    gate_decide(actor=team["so2"], play=play, decision="approve", reason="Mine, but it holds.", hat_switch=True)
    switched = AuditEvent.objects.get(action="gate.hat_switched")
    assert switched.actor_label == "so2"
    assert GateDecision.objects.get(play=play).hat_switch is True


def test_only_an_admin_sets_two_approvals_through_the_api_and_bad_values_change_nothing(team):
    api = APIClient()
    url = f"/api/projects/{team['project'].pk}/signoff-approvals/"
    api.force_authenticate(team["mo"])
    assert api.post(url, {"approvals": 2}, format="json").status_code == 403
    api.force_authenticate(team["admin"])
    assert api.post(url, {"approvals": 3}, format="json").status_code == 400
    assert api.post(url, {"approvals": "two"}, format="json").status_code == 400
    team["project"].refresh_from_db()
    assert team["project"].signoff_approvals == 1
    response = api.post(url, {"approvals": 2}, format="json")
    assert response.status_code == 200 and response.json()["signoff_approvals"] == 2
    assert AuditEvent.objects.filter(action="project.signoff_approvals_set").count() == 1


def test_a_retrain_stops_the_systems_evaluation_of_the_closing_cycle_but_not_a_decisions_record(team, play5):
    from apps.playbook.services import cycle_open_retrain

    play = play5["play"]
    queued = Job.objects.get(play=play, kind="evaluate")
    cycle_open_retrain(actor=team["mo"], project=team["project"], reason="New tickets arrived.")
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELLED
    event = AuditEvent.objects.get(action="job.cancel_requested", object_id=str(queued.pk))
    assert event.after["reason"] == "The cycle closed for a retrain."


def test_a_retrain_leaves_the_signoff_record_of_a_decision_to_be_written(team, play5):
    from apps.playbook.services import cycle_open_retrain

    play = play5["play"]
    evaluation = _evaluate(play)
    _answered_and_submitted(team, play, evaluation)
    gate_decide(actor=team["so"], play=play, decision="approve", reason="Ship it.")
    record = Job.objects.get(play=play, kind="signoff_record")
    cycle_open_retrain(actor=team["mo"], project=team["project"], reason="Drift.")
    assert run_job(record.pk).status == "succeeded"
    evaluation.refresh_from_db()
    assert evaluation.record_pdf is not None
