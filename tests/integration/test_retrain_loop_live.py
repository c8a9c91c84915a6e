"""The cycle closes, on PostgreSQL + Redis with a real Celery worker and a real beat: Play 5 approves a model,
the system packages it, it is deployed and promoted, traffic arrives through the predict endpoint and the
ingest API with late feedback, beat closes windows and the worker judges them, a breach of the live-metric
floor opens cycle 2 by the system, the data owner adds the labelled production data and seals it (the old
test set kept as the golden set), the retrain fine-tunes from the production checkpoint, Play 5 compares
the challenger with production on both test sets, the approval promotes it, and a sign-off owner rolls
back. Everything after Plays 1-4 of cycle 1 goes through the HTTP API; each job runs on the worker.

A tiny random BERT keeps it quick: the live metric is steered by the feedback, which names the served label
("right") or another one ("wrong").
"""
import time

import pytest
from django.test import Client

from apps.accounts.services import token_issue
from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.monitoring.models import Alert, Deployment, MonitoringWindow, Package
from apps.playbook.models import Cycle, Play
from demo.generate import generate
from tests.conftest import wait_for_job
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import ANSWERS, reach_play5

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

JSON = "application/json"
WINDOW = 500  # the default PLAYBOOK_WINDOW_SIZE the worker runs with


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")


def _ok(response, status=(200, 201, 202)):
    assert response.status_code in ((status,) if isinstance(status, int) else status), response.content[:600]
    return response.json()


def _newest_job(play, kind: str, *, after: int = 0, timeout: float = 60) -> Job:
    """The job of ``kind`` the system started on ``play`` (it appears when the change that starts it commits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.filter(play=play, kind=kind, pk__gt=after).order_by("-pk").first()
        if job is not None:
            return job
        time.sleep(0.5)
    raise AssertionError(f"no {kind} job was started on play {play.pk}")


def _until(what: str, found, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _decide(api: Client, play: Play, deliverable: dict, decision: str, reason: str):
    _ok(api.patch(f"/api/plays/{play.pk}/", {"deliverable": deliverable}, content_type=JSON))
    _ok(api.post(f"/api/plays/{play.pk}/submit/"))
    return _ok(api.post(f"/api/plays/{play.pk}/decision/", {"decision": decision, "reason": reason}, content_type=JSON))


def _traffic(deployment: Deployment, key: str, *, seed: int, feedback: str, drifted: bool = False) -> None:
    """One window of production traffic: half served by the predict endpoint, half predicted elsewhere and
    ingested, then late feedback on every row."""
    client = Client(HTTP_AUTHORIZATION=f"Client {key}")
    rows, production = generate(seed=seed, rows=WINDOW if not drifted else 40, production_rows=WINDOW if drifted else 10)
    texts = [r["text"] for r in (production if drifted else rows)][:WINDOW]
    labels = deployment.package.label_names
    served = []
    for start in range(0, WINDOW // 2, 50):
        served += _ok(client.post(f"/api/deployments/{deployment.pk}/predict/", {"texts": texts[start:start + 50]},
                                  content_type=JSON))["predictions"]
    elsewhere = [{"id": f"ext-{seed}-{i}", "text": text, "label": labels[i % len(labels)],
                  "probabilities": [1.0 if j == i % len(labels) else 0.0 for j in range(len(labels))],
                  "at": "2026-12-02T10:00:00Z"} for i, text in enumerate(texts[WINDOW // 2:])]
    assert _ok(client.post(f"/api/deployments/{deployment.pk}/predictions/", {"predictions": elsewhere},
                           content_type=JSON))["stored"] == len(elsewhere)
    given = [(p["id"], p["label"]) for p in served] + [(r["id"], r["label"]) for r in elsewhere]
    answers = [{"id": pid, "label": label if feedback == "right" else labels[(labels.index(label) + 1) % len(labels)]}
               for pid, label in given]
    _ok(client.post(f"/api/deployments/{deployment.pk}/feedback/", {"feedback": answers}, content_type=JSON))


def test_the_cycle_closes_with_a_real_worker_and_beat(celery_beat_process, team, sample_upload, monkeypatch, tmp_path):
    state = reach_play5(team, sample_upload, monkeypatch, build_tiny_bert(tmp_path / "tiny", layers=2, seed=0),
                        rows=400)
    mo, do, so = _api(team["mo"]), _api(team["do"]), _api(team["so"])
    project = team["project"]

    # --- cycle 1: Play 5 approves; the system packages; deployed and promoted ---------------------------
    play5 = state["play"]
    evaluation = wait_for_job(_newest_job(play5, "evaluate").pk, timeout=300)
    assert evaluation.status == "succeeded", evaluation.error
    _decide(so, play5, {"evaluation": evaluation.result["evaluation"], **ANSWERS}, "approve", "It beats the baseline.")
    play6 = Play.objects.get(cycle=state["cycle"], number=6)
    packaging = wait_for_job(_newest_job(play6, "package").pk, timeout=300)
    assert packaging.status == "succeeded" and packaging.created_by is None, packaging.error
    package = Package.objects.get(job=packaging)
    first = _ok(mo.post("/api/deployments/", {"package": package.pk, "reason": "First model."}, content_type=JSON))
    assert first["stage"] == "challenger"
    _ok(mo.post(f"/api/deployments/{first['id']}/promote/", {"reason": "mine"}, content_type=JSON), 403)
    assert _ok(so.post(f"/api/deployments/{first['id']}/promote/", {"reason": "Play 5 approved it."},
                       content_type=JSON))["stage"] == "production"
    _ok(mo.patch(f"/api/plays/{play6.pk}/", {"deliverable": {
        "package": package.pk, "live_metric_floor": 0.6,
        "monitoring_note": "The data owner reads drift alerts; a floor breach retrains."}}, content_type=JSON))
    deployment = Deployment.objects.select_related("package").get(pk=first["id"])
    from apps.monitoring.traffic import client_token_issue

    _, key = client_token_issue(actor=team["mo"], deployment=deployment, name="help-desk router")

    # --- traffic and the monitor: beat closes each window, the worker judges it ------------------------
    _traffic(deployment, key, seed=31, feedback="right")
    window1 = _until("window 1", lambda: MonitoringWindow.objects.filter(deployment=deployment, index=1).first())
    assert window1.rows == WINDOW and window1.labelled == WINDOW and window1.job.created_by is None
    assert "performance" not in window1.result["breached"] and project.cycles.count() == 1
    _traffic(deployment, key, seed=32, feedback="wrong", drifted=True)
    window2 = _until("window 2", lambda: MonitoringWindow.objects.filter(deployment=deployment, index=2).first())
    assert "performance" in window2.result["breached"]
    trigger = _until("the retrain trigger's cycle", lambda: Alert.objects.filter(
        deployment=deployment, retrain=True, cycle__isnull=False).select_related("cycle").first())
    cycle2 = trigger.cycle
    assert cycle2.number == 2 and cycle2.trigger["by"] == "system" and cycle2.trigger["signal"]["window"] == 2
    assert Cycle.objects.get(project=project, number=1).status == "closed"
    alerts = _ok(do.get("/api/alerts/"))
    assert any(a["retrain"] and a["cycle"] == 2 for a in alerts)

    # --- cycle 2, Play 3: the labelled production data becomes a new version, sealed with a golden set ---
    dataset = _ok(do.post(f"/api/deployments/{deployment.pk}/production-data/", {}, content_type=JSON), 201)
    assert dataset["parent"] == state["split_set"].dataset_id
    seal = _ok(do.post(f"/api/datasets/{dataset['id']}/seal/", {"train": 0.6, "val": 0.2, "test": 0.2, "seed": 1},
                       content_type=JSON), 202)
    assert wait_for_job(seal["id"], timeout=300).status == "succeeded"
    splits = _ok(do.get(f"/api/datasets/{dataset['id']}/splits/"))["splits"]
    old = {s.name: s for s in state["split_set"].splits.all()}
    assert splits["golden"]["sha256"] == old["test"].sha256  # the previous test set, unchanged
    assert splits["test"]["rows"] > 0 and splits["train"]["rows"] > old["train"].rows
    play3 = cycle2.plays.get(number=3)
    _ok(do.patch(f"/api/plays/{play3.pk}/", {"deliverable": {}}, content_type=JSON))
    _ok(do.post(f"/api/plays/{play3.pk}/submit/"))
    _ok(so.post(f"/api/plays/{play3.pk}/decision/", {"decision": "approve"}, content_type=JSON))

    # --- Play 4: the retrain fine-tunes from the production checkpoint ---------------------------------
    play4 = cycle2.plays.get(number=4)
    retrain = _ok(mo.post("/api/jobs/", {"play": play4.pk, "kind": "retrain", "params": {"max_stages": 1}},
                          content_type=JSON), 201)
    assert retrain["params"]["from_job"] == state["frozen"].pk
    assert wait_for_job(retrain["id"], timeout=300).status == "succeeded"
    _ok(mo.patch(f"/api/plays/{play4.pk}/", {"deliverable": {"checkpoint_job": retrain["id"]}}, content_type=JSON))
    _ok(mo.post(f"/api/plays/{play4.pk}/submit/"))
    _ok(so.post(f"/api/plays/{play4.pk}/decision/", {"decision": "approve"}, content_type=JSON))

    # --- Play 5: the challenger against production, on the recent slice and on the golden set ----------
    play5b = cycle2.plays.get(number=5)
    evaluated = wait_for_job(_newest_job(play5b, "evaluate").pk, timeout=300)
    assert evaluated.status == "succeeded", evaluated.error
    report = _ok(so.get(f"/api/evaluations/{evaluated.result['evaluation']}/"))
    assert report["reference"] == "production" and report["golden"]["reference"] == "production"
    assert report["golden"]["rows"] == old["test"].rows and report["hashes"]["golden_split"] == old["test"].sha256
    decided = _decide(so, play5b, {"evaluation": evaluated.result["evaluation"], **ANSWERS}, "approve",
                      "It holds on the golden set and serves recent traffic.")

    # --- the approval is the promotion; the old deployment is one rollback away --------------------------
    play6b = cycle2.plays.get(number=6)
    packaged = wait_for_job(_newest_job(play6b, "package").pk, timeout=300)
    assert packaged.status == "succeeded", packaged.error
    second = _ok(do.get(f"/api/deployments/{packaged.result['deployment']}/"))
    assert second["stage"] == "production" and second["replaced"] == deployment.pk
    assert second["history"][-1]["decision"] == decided["id"] and "so" in second["history"][-1]["by"]
    assert Deployment.objects.get(pk=deployment.pk).stage == "retired"
    restored = _ok(so.post(f"/api/deployments/{second['id']}/rollback/", {"reason": "Field complaints."},
                           content_type=JSON))
    assert restored["id"] == deployment.pk and restored["stage"] == "production"
    actions = set(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert {"monitoring.window_judged", "cycle.opened", "deployment.promote", "deployment.rollback",
            "deployment.restore", "split.test_read"} <= actions
