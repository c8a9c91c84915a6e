"""Play 2: candidates, the bake-off job (run through the worker's code path on two tiny random BERTs),
the scorecard on the page and the gate."""
import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core.errors import NotAllowed, ValidationFailed
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, play_submit, play_update_deliverable
from apps.training.candidates import candidate_register
from apps.jobs.models import Artifact
from apps.training.models import Candidate
from apps.jobs.runner import job_execute
from apps.playbook.services import play_job_start as job_start
from tests.conftest import PASSWORD
from tests.helpers import submitted_play1
from tests.unit.engine.conftest import build_tiny_bert

pytestmark = pytest.mark.django_db

RATIONALE = "The larger candidate probes better and stays inside the latency budget on our workers."


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return (build_tiny_bert(tmp_path_factory.mktemp("cand-a"), layers=2, seed=0),
            build_tiny_bert(tmp_path_factory.mktemp("cand-b"), layers=1, seed=1))


def register(team, name, model_source, **extra):
    fields = {"source": str(model_source), "licence": "Apache-2.0", "domain_rating": 3, "latency_budget_ms": 5000,
              "memory_budget_mb": 4096}
    return candidate_register(actor=team["mo"], project=team["project"], name=name, **{**fields, **extra})


@pytest.fixture
def play2(team, sample_upload, tiny_models):
    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    a = register(team, "tiny-a", tiny_models[0])
    b = register(team, "tiny-b", tiny_models[1], licence="CC-BY-NC-4.0")
    play = Play.objects.get(cycle=play1.cycle, number=2)
    return play, a, b


def run_bakeoff(team, play, **params):
    job = job_start(actor=team["mo"], play=play, kind="bakeoff", params={"folds": 3, **params})
    assert job.queue == "gpu"
    status = job_execute(job.pk)
    job.refresh_from_db()
    return status, job


def test_candidate_registration_validates_and_audits(team, tiny_models):
    with pytest.raises(NotAllowed):
        candidate_register(actor=team["do"], project=team["project"], name="x", source=str(tiny_models[0]),
                           licence="MIT", domain_rating=3, latency_budget_ms=10, memory_budget_mb=10)
    for bad in ({"source": "/nonexistent/model"}, {"source": "not a hub id"}, {"licence": "Apache 2.0 or so"},
                {"domain_rating": 6}, {"latency_budget_ms": -1}, {"memory_budget_mb": "lots"}):
        with pytest.raises(ValidationFailed):
            register(team, "bad", tiny_models[0], **bad)
    assert not Candidate.objects.exists()
    permissive = register(team, "a", tiny_models[0])
    restrictive = register(team, "b", "some-org/some-model", licence="CC-BY-NC-4.0")
    explicit = register(team, "c", tiny_models[1], licence="LicenseRef-internal", licence_permits=True)
    assert (permissive.licence_permits, restrictive.licence_permits, explicit.licence_permits) == (True, False, True)
    assert AuditEvent.objects.filter(action="candidate.registered").count() == 3



def _post_candidate_form(team, sample_upload, form: dict):
    """The model owner sends Play 2's candidate form (Play 1 approved first), as the page does."""
    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play2 = Play.objects.get(cycle=play1.cycle, number=2)
    client = Client()
    client.force_login(team["mo"])
    return client.post(f"/plays/{play2.pk}/candidates/", form)


def test_a_refused_candidate_names_every_bad_field_and_keeps_what_was_typed(team, sample_upload):
    """Play 2's candidate form: every bad field at once, marked next to it, the form open, what was typed kept."""
    import re

    response = _post_candidate_form(team, sample_upload, {
        "name": "second encoder", "source": "not a hub id", "licence": "MIT", "domain_rating": "9",
        "latency_budget_ms": "fast", "memory_budget_mb": "512", "licence_permits": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("source", "domain_rating", "latency_budget_ms"):
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html), field
    assert html.count('aria-invalid="true"') == 3
    assert "3 fields need fixing" in html
    assert re.search(r'name="name"[^>]*value="second encoder"', html)
    assert re.search(r'name="memory_budget_mb"[^>]*value="512"', html)
    assert re.search(r'name="licence_permits"[^>]*checked', html)
    assert re.search(r"<details open><summary>Register a candidate", html)
    assert not Candidate.objects.exists()


def test_a_well_formed_path_that_holds_no_model_is_refused_on_its_own(team, sample_upload, tmp_path):
    """The form's fields are fine; the directory has no model in it. Said once, above the form, which keeps what
    was typed: it is not a field the owner typed wrongly."""
    response = _post_candidate_form(team, sample_upload, {
        "name": "local", "source": str(tmp_path), "licence": "MIT", "domain_rating": "3",
        "latency_budget_ms": "50", "memory_budget_mb": "512"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "is not a model directory: it has no config.json file" in html
    assert 'aria-invalid="true"' not in html and f'value="{tmp_path}"' in html
    assert not Candidate.objects.exists()


def test_the_candidate_api_schema_states_the_services_rules(team, tiny_models):
    """A body the API's schema accepts is never refused by field (the fuzz test's rule); one it refuses gets
    every bad field at once. The schema's bounds are the service's own."""
    from drf_spectacular.generators import SchemaGenerator

    from apps.training import candidates as rules

    schema = SchemaGenerator().get_schema(request=None, public=True)
    props = schema["components"]["schemas"]["CandidateListCreateInputRequest"]["properties"]
    assert props["latency_budget_ms"]["minimum"] == rules.LATENCY_MS[0]
    assert props["memory_budget_mb"]["maximum"] == rules.MEMORY_MB[1]
    assert props["source"]["pattern"] == rules.SOURCE_PATTERN and props["licence"]["pattern"] == rules.LICENCE_PATTERN
    client = Client()
    client.force_login(team["mo"])
    url = f"/api/projects/{team['project'].pk}/candidates/"
    good = {"name": "a", "source": str(tiny_models[0]), "licence": "MIT", "domain_rating": 3,
            "latency_budget_ms": rules.LATENCY_MS[0], "memory_budget_mb": rules.MEMORY_MB[0]}
    refused = client.post(url, {**good, "source": "not a hub id", "latency_budget_ms": 0.05, "licence": "MIT or so"},
                          content_type="application/json")
    assert refused.status_code == 400 and set(refused.json()["fields"]) == {"source", "latency_budget_ms", "licence"}
    # Paths that name no model here: a missing folder, an unknown user's home, a name too long for the disk.
    for source in ("/no/such/model", "~no-such-user-here/model", "./" + "a" * 400):
        missing = client.post(url, {**good, "source": source}, content_type="application/json")
        assert missing.status_code == 400 and "config.json" in missing.json()["error"], source
        assert not missing.json().get("fields")
    assert not Candidate.objects.exists()
    assert client.post(url, good, content_type="application/json").status_code == 201

def test_bakeoff_scores_the_shortlist_and_the_gate_follows_the_evidence(team, play2):
    play, a, b = play2
    with pytest.raises(ValidationFailed):  # a bake-off needs a shortlist of two or three
        job_start(actor=team["mo"], play=play, kind="bakeoff", params={})
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"shortlist": [a.pk, b.pk]})
    status, job = run_bakeoff(team, play)
    assert status == "succeeded", job.error
    play.refresh_from_db()
    evidence = play.evidence["bakeoff"]
    assert evidence["job"] == job.pk and set(evidence["candidates"]) == {str(a.pk), str(b.pk)}
    card = evidence["candidates"][str(a.pk)]
    for key in ("macro_f1", "accuracy", "p50_latency_ms", "p95_latency_ms", "throughput_per_s", "parameters",
                "peak_memory_bytes", "device"):
        assert key in card, key
    assert Artifact.objects.filter(job=job, kind="feature_cache").count() == 2

    # Choosing the restrictively licensed candidate fails the licence check.
    play = play_update_deliverable(actor=team["mo"], play=play,
                                   deliverable={"chosen_candidate": b.pk, "rationale": RATIONALE})
    with pytest.raises(ValidationFailed, match="licence permits"):
        play_submit(actor=team["mo"], play=play)
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"chosen_candidate": a.pk})
    page = Client()
    page.login(username="so", password=PASSWORD)
    play_submit(actor=team["mo"], play=play)
    html = page.get(f"/plays/{play.pk}/").content.decode()
    assert 'id="scorecard"' in html and "tiny-a" in html and "tiny-b" in html and 'value="approve"' in html
    gate_decide(actor=team["so"], play=play, decision="approve")
    assert Play.objects.get(cycle=play.cycle, number=3).status == "ready"


def test_changing_the_shortlist_invalidates_the_bakeoff(team, play2, tiny_models):
    play, a, b = play2
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"shortlist": [a.pk, b.pk]})
    assert run_bakeoff(team, play)[0] == "succeeded"
    c = register(team, "tiny-c", tiny_models[0])
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={
        "shortlist": [a.pk, c.pk], "chosen_candidate": a.pk, "rationale": RATIONALE})
    with pytest.raises(ValidationFailed, match="Bake-off run"):
        play_submit(actor=team["mo"], play=play)


def test_a_bakeoff_with_bad_inputs_fails_visibly_and_leaves_the_play_unchanged(team, play2):
    play, a, b = play2
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"shortlist": [a.pk, b.pk]})
    before = (play.status, play.evidence)
    status, job = run_bakeoff(team, play, folds=99)
    assert status == "failed" and "folds=99" in job.error
    play.refresh_from_db()
    assert (play.status, play.evidence) == before


def test_shortlist_validation(team, play2):
    play, a, b = play2
    for bad in ({"shortlist": [a.pk, a.pk]}, {"shortlist": [a.pk, 999]}, {"shortlist": [1, 2, 3, 4]},
                {"chosen_candidate": 999}, {"shortlist": "x y"}):
        with pytest.raises(ValidationFailed):
            play_update_deliverable(actor=team["mo"], play=play, deliverable=bad)


def test_play1_zero_shot_baseline_joins_the_baselines(team, sample_upload, settings, tiny_models):
    from tests.helpers import measure_baseline

    settings.PLAYBOOK_ZERO_SHOT_ENCODER = str(tiny_models[0])
    play = measure_baseline(team, sample_upload)
    zero_shot = play.evidence["baseline"]["results"]["baselines"]["zero_shot"]
    assert 0 <= zero_shot["macro_f1"] <= 1 and zero_shot["encoder"] == str(tiny_models[0])
    assert zero_shot["p95_latency_ms"] >= zero_shot["p50_latency_ms"] > 0
