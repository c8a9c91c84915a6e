"""Play 4 through the worker's code path on a tiny random BERT: the frozen-base head first (features
cached once), then progressive unfreezing, checkpoints with hashes, cancellation, and the gate."""
import pytest
from django.test import Client

from apps.core import registry
from apps.core.errors import ValidationFailed
from apps.datasets.models import SplitRead
from apps.datasets.services import dataset_upload
from apps.jobs import runner
from apps.jobs.models import Artifact, Job
from apps.jobs.runner import job_execute
from apps.jobs.services import job_claim
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, job_cancel, play_submit, play_update_deliverable
from apps.playbook.services import play_job_start as job_start
from apps.training.candidates import candidate_register
from tests.conftest import PASSWORD
from tests.helpers import seal_now, submitted_play1, walk_past
from tests.unit.engine.conftest import build_tiny_bert

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-play4"), layers=2, seed=0)


@pytest.fixture
def play4(team, sample_upload, monkeypatch, tiny_model):
    play = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play, decision="approve")
    walk_past(team, play, (2, 3), monkeypatch)
    candidate = candidate_register(actor=team["mo"], project=team["project"], name="tiny", source=str(tiny_model),
                                   licence="MIT", domain_rating=2, latency_budget_ms=100, memory_budget_mb=100)
    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    split_set = seal_now(team["do"], dataset, train=0.6, val=0.2, test=0.2, seed=1)
    return {"play": Play.objects.get(cycle=play.cycle, number=4),
            "inputs": {"candidate": candidate.pk, "split_set": split_set.pk}, "split_set": split_set}


def run(team, play, kind, **params):
    job = job_start(actor=team["mo"], play=play, kind=kind, params=params)
    assert job.queue == "gpu"
    status = job_execute(job.pk)
    job.refresh_from_db()
    assert status == "succeeded", job.error
    return job


def test_freeze_first_then_unfreeze_then_submit_a_checkpoint(team, play4):
    play, inputs = play4["play"], play4["inputs"]
    with pytest.raises(ValidationFailed, match="Freeze first"):
        job_start(actor=team["mo"], play=play, kind="unfreeze", params={})
    frozen = run(team, play, "frozen_head", epochs=4, patience=2, **inputs)
    assert frozen.result["feature_cache_hits"] == {"train": False, "val": False}
    assert frozen.metrics.filter(name="val_macro_f1").count() >= 1  # curves reached the metric table
    # A second head configuration reuses the cached features: no encoder pass this time.
    second = run(team, play, "frozen_head", epochs=3, hidden=16, **inputs)
    assert second.result["feature_cache_hits"] == {"train": True, "val": True}
    with pytest.raises(ValidationFailed, match="batching"):
        job_start(actor=team["mo"], play=play, kind="unfreeze", params={"batching": "sorted"})
    unfrozen = run(team, play, "unfreeze", max_stages=2, batch_size=8, max_length=32, batching="bucketed")
    assert unfrozen.params["from_job"] == second.pk  # defaults to the latest frozen head
    assert unfrozen.params["batching"] == "bucketed"
    assert unfrozen.result["stages"] and "best_stage" in unfrozen.result
    # Stage 1 trains the top block of two: the block below it was replayed from the prefix cache.
    assert unfrozen.result["stages"][1]["prefix_cache"] == "from block 1"
    checkpoint = Artifact.objects.get(job=unfrozen, kind="checkpoint")
    assert len(checkpoint.sha256) == 64 and checkpoint.size_bytes > 0
    # Training never touched the test split.
    assert not SplitRead.objects.filter(split__split_set=play4["split_set"], split__name="test").exists()

    play.refresh_from_db()
    assert set(play.evidence["runs"]) == {str(frozen.pk), str(second.pk), str(unfrozen.pk)}
    with pytest.raises(ValidationFailed):
        play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": 999})
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": unfrozen.pk})
    checks = {c.key: c for c in registry.play_module(4).checks(play)}
    assert checks["frozen_first"].passed and checks["checkpoint"].passed
    assert checks["checkpoint"].evidence["sha256"] == checkpoint.sha256
    assert "val_vs_target" in checks
    page = Client()
    page.login(username="mo", password=PASSWORD)
    html = page.get(f"/plays/{play.pk}/").content.decode()
    assert 'id="runs"' in html and checkpoint.sha256[:12] in html and "curve-" in html
    play_submit(actor=team["mo"], play=play)
    gate_decide(actor=team["so"], play=play, decision="approve")
    assert Play.objects.get(cycle=play.cycle, number=5).status == "ready"


def test_an_altered_checkpoint_fails_the_gate(team, play4, settings):
    play = play4["play"]
    frozen = run(team, play, "frozen_head", epochs=2, **play4["inputs"])
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": frozen.pk})
    path = settings.DATA_DIR / Artifact.objects.get(job=frozen, kind="checkpoint").path
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ValidationFailed, match="missing or altered"):
        play_submit(actor=team["mo"], play=play)


def test_a_running_job_cancelled_stops_at_its_next_report_and_leaves_the_play(team, play4):
    play = play4["play"]
    job = job_start(actor=team["mo"], play=play, kind="frozen_head", params={"epochs": 200, **play4["inputs"]})
    claimed = job_claim(job_id=job.pk, device="cpu")
    job_cancel(actor=team["mo"], job=claimed)
    evidence = Play.objects.get(pk=play.pk).evidence
    assert runner._run_claimed(Job.objects.get(pk=job.pk)) == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and not Artifact.objects.filter(job=job).exists()
    assert Play.objects.get(pk=play.pk).evidence == evidence
    assert job_execute(job.pk) == "skipped"  # a finished job is never re-run


def test_unknown_or_out_of_range_params_are_refused(team, play4):
    play = play4["play"]
    for params in ({"lr_divisor": 5}, {"optimiser": "sgd"}, {"epochs": 0}, {"pooling": "max"}):
        kind = "unfreeze" if "lr_divisor" in params else "frozen_head"
        with pytest.raises(ValidationFailed):
            job_start(actor=team["mo"], play=play, kind=kind, params={**params, **play4["inputs"]})
    assert not Job.objects.filter(play=play).exists()


def test_retrain_continues_from_an_approved_checkpoint_with_the_same_recipe(team, play4):
    play = play4["play"]
    with pytest.raises(ValidationFailed, match="approved"):
        job_start(actor=team["mo"], play=play, kind="retrain", params={})
    frozen = run(team, play, "frozen_head", epochs=2, **play4["inputs"])
    unfrozen = run(team, play, "unfreeze", max_stages=1, batch_size=8, max_length=32)
    retrain = run(team, play, "retrain", from_job=unfrozen.pk, split_set=play4["inputs"]["split_set"])
    assert retrain.result["from_job"] == unfrozen.pk and retrain.result["stages"][0]["stage"] == 0
    assert Artifact.objects.get(job=retrain, kind="checkpoint").sha256 == retrain.result["checkpoint"]["sha256"]
    assert frozen.pk != retrain.pk


def test_choosing_a_checkpoint_whose_weights_were_altered_is_refused(team, play4, settings):
    play = play4["play"]
    frozen = run(team, play, "frozen_head", epochs=2, **play4["inputs"])
    artifact = Artifact.objects.get(job=frozen, kind="checkpoint")
    # The row's size is the whole folder's (every file the manifest lists), not the manifest's alone.
    weights = (settings.DATA_DIR / artifact.path).parent / "model.safetensors"
    assert artifact.size_bytes > weights.stat().st_size
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    with pytest.raises(ValidationFailed, match="model.safetensors was altered"):
        play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": frozen.pk})
    assert "checkpoint_job" not in Play.objects.get(pk=play.pk).deliverable


def test_a_refused_job_start_marks_only_its_own_forms_fields_and_keeps_what_was_typed(team, play4, monkeypatch):
    """Play 4 has two job forms with a field of the same name (patience): a refused frozen-head start marks
    every bad setting of that form at once, keeps what was typed there, and leaves the unfreeze form alone."""
    import re

    from apps.training import play4 as module

    play = play4["play"]
    monkeypatch.setattr(module, "training_inputs", lambda _play: dict(play4["inputs"]))
    client = Client()
    client.force_login(team["mo"])
    response = client.post(f"/plays/{play.pk}/jobs/",
                           {"kind": "frozen_head", "lr": "fast", "epochs": "0", "patience": "7"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'name="lr" value="fast"[^>]*aria-invalid="true"', html)
    assert re.search(r'name="epochs" value="0"[^>]*aria-invalid="true"', html)
    assert "Give the learning rate as a number" in html and "Give the number of epochs" in html
    assert re.search(r'name="patience" value="7" size="3">', html)  # typed in the refused form, not marked
    assert re.search(r'name="patience" value="1" size="3">', html)  # the unfreeze form keeps its default
    assert html.count('aria-invalid="true"') == 2
    assert not Job.objects.filter(play=play).exists()

