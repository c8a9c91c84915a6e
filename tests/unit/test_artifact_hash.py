"""A page render never reads an artifact: the checkpoint is hashed once, when it is written, and the page shows
that stored hash. Its files are checked against it when they are used (submitted, loaded by a job), and an
altered file is refused there with a message that says so."""
import builtins
from pathlib import Path

import pytest
from django.test import Client

from apps.core import registry, storage
from apps.core.errors import ValidationFailed
from apps.jobs.models import Artifact, Job
from apps.jobs.runner import job_execute
from apps.playbook.models import Play
from apps.playbook.services import play_job_start, play_submit, play_update_deliverable
from tests.conftest import PASSWORD
from tests.unit import test_play4
from workers.engine import checkpoints

pytestmark = pytest.mark.django_db

# The Play 4 fixtures (a tiny random BERT, a project walked to Play 4) and its job runner.
tiny_model, play4, run = test_play4.tiny_model, test_play4.play4, test_play4.run


def _tamper(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:-8] + b"tampered")


@pytest.fixture
def chosen(team, play4, settings):
    """Play 4 with a frozen-head checkpoint chosen for the gate, and that checkpoint's folder."""
    play = play4["play"]
    job = run(team, play, "frozen_head", epochs=2, **play4["inputs"])
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": job.pk})
    artifact = Artifact.objects.get(job=job, kind="checkpoint")
    return {"play": play, "job": job, "artifact": artifact,
            "folder": (settings.DATA_DIR / artifact.path).parent}


def _render_watching_files(monkeypatch, url: str, folder: Path) -> tuple[str, list[str]]:
    """GET the page as the model owner, recording every file under ``folder`` that is opened, and failing on
    any call of the hashing functions."""
    opened = []
    real_open = builtins.open

    def watching_open(file, *args, **kwargs):
        if isinstance(file, (str, Path)) and Path(file).resolve().is_relative_to(folder.resolve()):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def no_hashing(*args, **kwargs):
        raise AssertionError("a page render hashed a file")

    client = Client()
    assert client.login(username="mo", password=PASSWORD)
    monkeypatch.setattr(builtins, "open", watching_open)
    monkeypatch.setattr(storage, "file_sha256", no_hashing)
    monkeypatch.setattr(checkpoints, "verify_checkpoint", no_hashing)
    monkeypatch.setattr(checkpoints, "file_sha256", no_hashing)
    try:
        response = client.get(url)
    finally:
        monkeypatch.undo()
    assert response.status_code == 200
    return response.content.decode(), opened


def test_rendering_play4_opens_no_checkpoint_file_and_shows_the_stored_hash(team, chosen, monkeypatch):
    artifact, play = chosen["artifact"], chosen["play"]
    html, opened = _render_watching_files(monkeypatch, f"/plays/{play.pk}/", chosen["folder"])
    assert opened == []
    assert artifact.sha256[:16] in html
    checks = {c.key: c for c in registry.play_module(4).checks(play)}
    assert checks["checkpoint"].passed and checks["checkpoint"].evidence["sha256"] == artifact.sha256
    # The job progress partial and the API's play detail read no file either.
    for url in (f"/jobs/{chosen['job'].pk}/progress/", f"/api/plays/{play.pk}/"):
        _, opened = _render_watching_files(monkeypatch, url, chosen["folder"])
        assert opened == [], url


def test_the_stored_hash_is_the_one_taken_when_the_checkpoint_was_written(chosen):
    artifact = chosen["artifact"]
    assert artifact.sha256 == storage.file_sha256(storage.absolute(artifact.path))
    assert artifact.size_bytes == sum(f.stat().st_size for f in chosen["folder"].iterdir()
                                      if f.name != checkpoints.MANIFEST)


def test_a_checkpoint_altered_after_it_was_chosen_is_refused_on_submit(team, chosen):
    _tamper(chosen["folder"] / "model.safetensors")
    with pytest.raises(ValidationFailed, match="missing or altered.*model.safetensors was altered"):
        play_submit(actor=team["mo"], play=chosen["play"])
    assert Play.objects.get(pk=chosen["play"].pk).status == Play.Status.IN_PROGRESS


def test_a_checkpoint_whose_manifest_was_altered_is_refused_on_submit(team, chosen):
    _tamper(chosen["folder"] / checkpoints.MANIFEST)
    with pytest.raises(ValidationFailed, match="missing or altered"):
        play_submit(actor=team["mo"], play=chosen["play"])
    assert Play.objects.get(pk=chosen["play"].pk).status == Play.Status.IN_PROGRESS


def test_a_job_that_loads_an_altered_checkpoint_fails_and_says_why(team, chosen):
    _tamper(chosen["folder"] / "model.safetensors")
    job = play_job_start(actor=team["mo"], play=chosen["play"], kind="unfreeze",
                         params={"from_job": chosen["job"].pk, "max_stages": 1, "batch_size": 8, "max_length": 32})
    assert job_execute(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "cannot be used" in job.error and "model.safetensors was altered" in job.error
    assert not Artifact.objects.filter(job=job).exists()
