"""Play 6 through the services, the worker's code path and the API, on a tiny random BERT: the package the
system builds when Play 5 hands a model on, deployments (only sign-off owners promote; rollback is one
action), the predict endpoint with client tokens scoped to one deployment, and idempotent ingest of
predictions and late feedback where one bad row stores nothing."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.core import storage
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.models import SplitRead
from apps.jobs.models import Job
from apps.monitoring.models import Deployment, Feedback, Package, PredictionLog
from apps.monitoring.services import deployment_create, deployment_promote, deployment_rollback
from apps.monitoring.traffic import client_token_issue
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, play_submit, play_update_deliverable
from tests.helpers import run_job
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import ANSWERS, _evaluate, reach_play5

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-play6"), layers=2, seed=0)


def _approved(team, state, decision="approve"):
    play = state["play"]
    evaluation = _evaluate(play)
    play_update_deliverable(actor=team["so"], play=play, deliverable={"evaluation": evaluation.pk, **ANSWERS})
    play_submit(actor=team["so"], play=play)
    gate_decide(actor=team["so"], play=play, decision=decision, reason="On the evidence.")
    return Play.objects.get(cycle=play.cycle, number=6)


def _package(play6) -> Package:
    job = Job.objects.filter(play=play6, kind="package").latest("created_at")
    done = run_job(job.pk)
    assert done.status == "succeeded", done.error
    return Package.objects.get(job=done)


@pytest.fixture
def packaged(team, sample_upload, monkeypatch, tiny_model):
    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    play6 = _approved(team, state)
    return {**state, "play6": play6, "package": _package(play6)}


def test_the_system_packages_the_approved_candidate_with_parity_on_the_test_split(team, packaged):
    package = packaged["package"]
    assert package.job.created_by is None and package.shipped == "candidate"
    assert package.parity["variants"]["fp32"]["ok"] is True
    from workers.engine.packaging import verify_package

    _, sha, manifest = verify_package(storage.absolute(package.path), expected_sha256=package.sha256)
    assert sha == package.sha256
    assert not [name for name in manifest["files"] if name.endswith((".pkl", ".pt", ".bin"))]
    assert SplitRead.objects.filter(job=package.job, split__name="test").exists()  # a recorded read
    assert AuditEvent.objects.filter(action="package.built", object_id=str(package.pk)).exists()
    card = (storage.absolute(package.path) / "README.md").read_text(encoding="utf-8")
    assert "Ticket routing" in card
    api = APIClient()
    api.force_authenticate(team["do"])
    body = api.get(f"/api/packages/{package.pk}/").json()
    assert body["sha256"] == package.sha256 and body["card"].startswith("---")
    download = api.get(f"/api/packages/{package.pk}/download/")
    assert download.status_code == 200 and download["X-Package-SHA256"] == package.sha256
    assert api.get(f"/api/packages/{package.pk}/download/").getvalue() == download.getvalue()  # deterministic


def test_only_a_signoff_owner_promotes_and_a_rollback_restores_the_replaced_deployment(team, packaged):
    package = packaged["package"]
    with pytest.raises(NotAllowed):
        deployment_create(actor=team["so"], package=package)
    first = deployment_create(actor=team["mo"], package=package, reason="First model.")
    assert first.stage == Deployment.Stage.CHALLENGER
    page = Client()
    page.force_login(team["mo"])
    html = page.get(f"/plays/{packaged['play6'].pk}/").content.decode()
    assert f"Package #{package.pk} is deployed" in html and "Deploy as the challenger" not in html
    with pytest.raises(Conflict):
        deployment_create(actor=team["mo"], package=package)
    with pytest.raises(NotAllowed):
        deployment_promote(actor=team["mo"], deployment=first, reason="mine")
    with pytest.raises(ValidationFailed):
        deployment_promote(actor=team["so"], deployment=first, reason=" ")
    deployment_promote(actor=team["so"], deployment=first, reason="Play 5 approved it.")
    first.refresh_from_db()
    assert first.stage == Deployment.Stage.PRODUCTION
    # A second package of the same play (the package job run again) goes through the same steps.
    again = Job.objects.create(project=package.project, play=package.play, kind="package", params={"timing_calls": 0},
                               queue="gpu")
    run_job(again.pk)
    second = deployment_create(actor=team["mo"], package=Package.objects.get(job=again))
    deployment_promote(actor=team["so"], deployment=second, reason="Retrained.")
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.stage, second.stage, second.replaced_id) == ("retired", "production", first.pk)
    restored = deployment_rollback(actor=team["so"], deployment=second, reason="Complaints from the field.")
    first.refresh_from_db(), second.refresh_from_db()
    assert restored.pk == first.pk and first.stage == "production" and second.stage == "retired"
    assert [h.action for h in first.history.all()] == ["deploy", "promote", "retire", "restore"]
    assert AuditEvent.objects.filter(action__startswith="deployment.").count() == 7
    # Two packages, none chosen: the gate judges the one in production (first's), and the other can be picked.
    play6 = package.play
    page = Client()
    page.force_login(team["do"])
    html = page.get(f"/plays/{play6.pk}/").content.decode()
    assert f"The gate judges <strong>package #{package.pk}</strong>" in html and html.count(">Use this package<") == 1
    page.post(f"/plays/{play6.pk}/", {"package": second.package_id})
    html = page.get(f"/plays/{play6.pk}/").content.decode()
    assert f"The gate judges <strong>package #{second.package_id}</strong>" in html
    page.post(f"/plays/{play6.pk}/", {"package": package.pk})
    html = page.get(f"/plays/{play6.pk}/").content.decode()
    assert f"The gate judges <strong>package #{package.pk}</strong>" in html and html.count(">Use this package<") == 1
    assert "chosen: the gate judges this one" in html


def _live(team, package):
    deployment = deployment_create(actor=team["mo"], package=package)
    deployment_promote(actor=team["so"], deployment=deployment, reason="Approved in Play 5.")
    return deployment


def test_the_predict_endpoint_serves_with_a_client_token_scoped_to_its_deployment(team, packaged):
    deployment = _live(team, packaged["package"])
    _, key = client_token_issue(actor=team["mo"], deployment=deployment, name="help-desk router")
    client = APIClient()
    url = f"/api/deployments/{deployment.pk}/predict/"
    anonymous = client.post(url, {"texts": ["hello"]}, format="json")  # no credentials: 401, as the rest of the API
    assert anonymous.status_code == 401 and "Client <key>" in anonymous.json()["error"]
    client.credentials(HTTP_AUTHORIZATION=f"Client {key}")
    response = client.post(url, {"texts": ["I was charged twice", "cannot log in"]}, format="json")
    assert response.status_code == 200, response.content
    predictions = response.json()["predictions"]
    labels = set(packaged["package"].label_names)
    assert len(predictions) == 2 and all(p["label"] in labels for p in predictions)
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in predictions)
    logged = PredictionLog.objects.filter(deployment=deployment)
    assert logged.count() == 2 and all(p.latency_ms is not None and p.source == "served" for p in logged)
    # Too big a batch, or an empty text: refused, nothing logged.
    assert client.post(url, {"texts": ["x"] * 65}, format="json").status_code == 400
    assert client.post(url, {"texts": ["fine", "  "]}, format="json").status_code == 400
    assert logged.count() == 2
    # The token opens nothing else: not another deployment's traffic, not the project's API.
    assert client.post(f"/api/deployments/{deployment.pk + 999}/predict/", {"texts": ["x"]}, format="json").status_code == 404
    assert client.get(f"/api/projects/{team['project'].pk}/").status_code in (401, 403)


def test_ingest_is_idempotent_and_one_bad_row_stores_nothing(team, packaged):
    deployment = _live(team, packaged["package"])
    labels = packaged["package"].label_names
    share = [1.0 / len(labels)] * len(labels)
    api = APIClient()
    api.force_authenticate(team["do"])
    url = f"/api/deployments/{deployment.pk}/predictions/"
    rows = [{"id": f"t{i}", "text": f"ticket {i}", "label": labels[i % len(labels)], "probabilities": share,
             "at": "2026-12-01T10:00:00Z"} for i in range(5)]
    assert api.post(url, {"predictions": rows}, format="json").json() == {"stored": 5, "already_stored": 0}
    assert api.post(url, {"predictions": rows}, format="json").json() == {"stored": 0, "already_stored": 5}
    bad = [*rows, {"id": "t9", "text": "x", "label": "no-such-label", "probabilities": share}]
    response = api.post(url, {"predictions": [{**r, "id": f"n{i}"} for i, r in enumerate(bad)]}, format="json")
    assert response.status_code == 400 and "Row 6" in response.json()["error"]
    changed = [{**rows[0], "label": labels[1]}, {**rows[1], "id": "new"}]
    assert api.post(url, {"predictions": changed}, format="json").status_code == 409
    assert PredictionLog.objects.filter(deployment=deployment).count() == 5  # nothing half-stored
    feedback = f"/api/deployments/{deployment.pk}/feedback/"
    assert api.post(feedback, {"id": "t0", "label": labels[0]}, format="json").json()["stored"] == 1
    assert api.post(feedback, {"id": "t0", "label": labels[0]}, format="json").json()["already_stored"] == 1
    assert api.post(feedback, {"id": "t0", "label": labels[1]}, format="json").status_code == 409
    assert api.post(feedback, {"feedback": [{"id": "t1", "label": labels[0]}, {"id": "ghost", "label": labels[0]}]},
                    format="json").status_code == 400
    assert Feedback.objects.filter(deployment=deployment).count() == 1
    api.force_authenticate(team["so"])  # a sign-off owner sends no traffic
    assert api.post(url, {"predictions": rows}, format="json").status_code == 403


def test_play6_gate_passes_once_the_package_is_in_production_with_a_floor_and_a_note(team, packaged):
    play6, package = packaged["play6"], packaged["package"]
    page = Client()
    page.force_login(team["mo"])
    html = page.get(f"/plays/{play6.pk}/").content.decode()
    assert "Deploy as the challenger" in html and package.sha256[:12] in html
    page.post(f"/plays/{play6.pk}/", {"package": package.pk, "live_metric_floor": "0.7"})
    play6.refresh_from_db()
    assert play6.deliverable["package"] == package.pk and play6.deliverable["live_metric_floor"] == 0.7
    with pytest.raises(ValidationFailed, match="A sign-off owner promoted it"):
        play_submit(actor=team["mo"], play=play6)
    _live(team, package)
    with pytest.raises(ValidationFailed, match=r"The persistence \(4 windows\) cannot exceed the lookback") as refused:
        play_update_deliverable(actor=team["do"], play=play6, deliverable={"alert_policy": {"persistence": 4, "lookback": 3}})
    assert set(refused.value.fields) == {"alert_policy.persistence"}
    play_update_deliverable(actor=team["do"], play=play6, deliverable={
        "monitoring_note": "The data owner reads drift alerts weekly; a floor breach goes to the model owner.",
        "drift_thresholds": {"prediction_mix": 0.2}})
    play_submit(actor=team["do"], play=play6)
    gate_decide(actor=team["so"], play=play6, decision="approve")
    play6.refresh_from_db()
    assert play6.status == Play.Status.APPROVED


def test_a_shipped_baseline_is_packaged_with_skops_and_is_not_served_by_onnx(team, sample_upload, monkeypatch,
                                                                             tiny_model, settings):
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"  # Play 1 without the zero-shot baseline: a scikit-learn one ships
    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    play6 = _approved(team, state, decision="ship_baseline")
    package = _package(play6)
    assert package.shipped == "baseline" and package.model_name in ("tfidf_logreg", "majority")
    assert package.parity["variants"]["skops"]["ok"] is True
    assert (storage.absolute(package.path) / "model" / "model.skops").exists()
    deployment = _live(team, package)
    api = APIClient()
    api.force_authenticate(team["mo"])
    refused = api.post(f"/api/deployments/{deployment.pk}/predict/", {"texts": ["hello"]}, format="json")
    assert refused.status_code == 404 and "baseline" in refused.json()["error"]


def _traffic(team, deployment, *, seed, rows=200, feedback="right"):
    """Production traffic through the predict endpoint, then late feedback: the predicted labels
    ("right") or another label on every row ("wrong")."""
    from demo.generate import generate

    _, key = client_token_issue(actor=team["mo"], deployment=deployment, name=f"router {seed}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Client {key}")
    sample, _ = generate(seed=seed, rows=rows, production_rows=10)
    served = []
    for start in range(0, rows, 50):
        batch = [r["text"] for r in sample[start:start + 50]]
        served += client.post(f"/api/deployments/{deployment.pk}/predict/", {"texts": batch}, format="json").json()["predictions"]
    labels = deployment.package.label_names
    answers = [{"id": p["id"], "label": p["label"] if feedback == "right" else
                labels[(labels.index(p["label"]) + 1) % len(labels)]} for p in served]
    assert client.post(f"/api/deployments/{deployment.pk}/feedback/", {"feedback": answers}, format="json").status_code == 201


def test_beat_judges_closed_windows_and_a_floor_breach_opens_the_next_cycle(team, packaged, settings,
                                                                           django_capture_on_commit_callbacks):
    from apps.monitoring.models import Alert, MonitoringWindow
    from apps.monitoring.monitor import monitoring_tick

    settings.PLAYBOOK_WINDOW_SIZE = 200
    deployment = _live(team, packaged["package"])
    assert monitoring_tick() == []  # nothing to judge yet
    _traffic(team, deployment, seed=21, feedback="right")
    started = monitoring_tick()
    assert len(started) == 1 and monitoring_tick() == []  # one check per window, not two
    job = Job.objects.get(pk=started[0])
    assert job.created_by is None and job.kind == "drift_check" and job.play_id == packaged["play6"].pk
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job.pk).status == "succeeded"
    first = MonitoringWindow.objects.get(deployment=deployment)
    assert first.judged and first.rows == 200 and first.labelled == 200
    assert first.result["signals"]["performance"]["realised"]["value"] == pytest.approx(1.0)
    assert not Alert.objects.filter(retrain=True).exists()
    assert team["project"].cycles.count() == 1

    # The next window's feedback says the model is wrong everywhere: below the floor, a retrain trigger.
    _traffic(team, deployment, seed=22, feedback="wrong")
    job = Job.objects.get(pk=monitoring_tick()[0])
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job.pk).status == "succeeded"
    second = MonitoringWindow.objects.get(deployment=deployment, index=2)
    assert "performance" in second.result["breached"]
    trigger = Alert.objects.get(retrain=True)
    assert trigger.cycle is not None and trigger.cycle.number == 2
    assert trigger.cycle.trigger["by"] == "system" and trigger.cycle.trigger["signal"]["window"] == 2
    assert AuditEvent.objects.filter(action="cycle.opened", actor_label="system").exists()
    api = APIClient()
    api.force_authenticate(team["do"])
    windows = api.get(f"/api/deployments/{deployment.pk}/windows/").json()
    assert [w["index"] for w in windows] == [1, 2] and "performance" in windows[1]["breached"]
    alerts = api.get("/api/alerts/").json()
    assert any(a["retrain"] and a["cycle"] == 2 for a in alerts)
    api.force_authenticate(team["outsider"])
    assert api.get("/api/alerts/").json() == []
    assert api.get(f"/api/deployments/{deployment.pk}/windows/").status_code == 404
    page = Client()
    page.force_login(team["do"])
    html = page.get(f"/deployments/{deployment.pk}/monitoring/").content.decode()
    assert "Window 2" in html and "cycle 2" in html and "<svg" in html
    opened = trigger.cycle.plays.get(number=3)  # Plays 1 and 2 carry over: the new cycle starts at Play 3
    assert f'<a href="/plays/{opened.pk}/">cycle 2</a>' in html and "at Play 3" in html
    assert '>threshold 0.6</text>' in html  # the text signal's default threshold, printed on its chart


def test_simulate_traffic_replays_a_stream_and_a_drifted_one_and_the_monitor_sees_the_drift(team, packaged, settings):
    from django.core.management import call_command

    from apps.monitoring.models import MonitoringWindow

    settings.PLAYBOOK_WINDOW_SIZE = 200
    deployment = _live(team, packaged["package"])
    call_command("simulate_traffic", deployment=deployment.pk, rows=200, drift=True, run_checks=True, feedback=0.5)
    windows = list(MonitoringWindow.objects.filter(deployment=deployment).order_by("index"))
    assert [w.rows for w in windows] == [200, 200] and all(w.judged for w in windows)
    assert "text" in windows[1].result["breached"]
    assert windows[1].labelled == 100
