"""Play 1 end to end through the API, with the baseline computed by a real Celery worker process over
Redis, on PostgreSQL. Only the API is used to act; the ORM only to look."""
import pytest
from django.core.management import call_command
from django.test import Client

from apps.audit.models import AuditEvent
from apps.playbook.models import Play
from apps.jobs.models import MetricPoint
from tests.conftest import PASSWORD, SAMPLE_CSV, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/api/auth/token/", {"username": username, "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {response.json()['token']}"
    return client


def poll_job(client: Client, job_id: int) -> dict:
    wait_for_job(job_id)
    return client.get(f"/api/jobs/{job_id}/").json()


def test_play1_through_the_api_with_a_real_worker(celery_worker_process, make_user, tmp_path):
    for name in ("owner", "data", "approver"):
        make_user(name)
    mo = signed_in("owner")
    project = mo.post("/api/projects/", {"name": "Invoice triage", "request": "Sort incoming invoices."},
                      content_type="application/json").json()
    pid = project["id"]
    assert mo.post(f"/api/projects/{pid}/members/", {"username": "data", "role": "data_owner"},
                   content_type="application/json").status_code == 201
    assert mo.post(f"/api/projects/{pid}/members/", {"username": "approver", "role": "signoff_owner"},
                   content_type="application/json").status_code == 201
    plays = mo.get(f"/api/projects/{pid}/plays/").json()
    assert [(p["number"], p["status"], p["owner_role"]) for p in plays][:2] == [
        (1, "ready", "model_owner"), (2, "locked", "model_owner")]
    assert set(plays[0]) >= {"id", "number", "status", "owner_role", "assignee"}
    play_id = plays[0]["id"]

    sample = tmp_path / "sample.csv"
    sample.write_text(SAMPLE_CSV)
    with open(sample, "rb") as handle:
        uploaded = mo.post(f"/api/projects/{pid}/datasets/", {"file": handle})
    assert uploaded.status_code == 201
    assert set(uploaded.json()) >= {"id", "rows", "labels"}
    dataset = uploaded.json()["id"]
    deliverable = {"problem_statement": "Sort incoming invoices into the team that must handle each one.",
                   "metric": "macro_f1", "direction": "higher", "target": 0.99, "min_margin": 0.02,
                   "positive_label": "", "baseline_dataset": dataset}
    assert mo.patch(f"/api/plays/{play_id}/", {"deliverable": deliverable},
                    content_type="application/json").status_code == 200

    # A job with bad params fails visibly on the worker and leaves the play exactly as it was.
    before = mo.get(f"/api/plays/{play_id}/").json()
    bad = mo.post("/api/jobs/", {"play": play_id, "kind": "baseline", "params": {"folds": 500}},
                  content_type="application/json")
    assert bad.status_code == 201
    failed = poll_job(mo, bad.json()["id"])
    assert failed["status"] == "failed" and "folds=500" in failed["error"]
    after = mo.get(f"/api/plays/{play_id}/").json()
    assert (after["status"], after["evidence"], after["deliverable"]) == (
        before["status"], before["evidence"], before["deliverable"])
    assert mo.post(f"/api/plays/{play_id}/submit/").status_code == 400  # no baseline measured yet

    job = mo.post("/api/jobs/", {"play": play_id, "kind": "baseline", "params": {"folds": 3}},
                  content_type="application/json").json()
    done = poll_job(mo, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and done["device"] == "cpu" and done["worker_host"]
    scores = done["result"]["baselines"]
    assert scores["tfidf_logreg"]["macro_f1"] > scores["majority"]["macro_f1"]
    assert MetricPoint.objects.filter(job_id=job["id"]).exists()  # progress reports reached the database

    play = mo.get(f"/api/plays/{play_id}/").json()
    assert play["evidence"]["baseline"]["job"] == job["id"]
    checks = {c["key"]: c for c in play["checks"]}
    assert checks["baseline_measured"]["passed"] and checks["baseline_vs_target"]["evidence"]["meets_target"] is False

    assert mo.post(f"/api/plays/{play_id}/submit/").json()["status"] == "submitted"
    assert mo.post(f"/api/plays/{play_id}/decision/", {"decision": "approve"},
                   content_type="application/json").status_code == 403
    approver = signed_in("approver")
    refused = approver.post(f"/api/plays/{play_id}/decision/", {"decision": "ship_baseline"},
                            content_type="application/json")
    assert refused.status_code == 409
    decided = approver.post(f"/api/plays/{play_id}/decision/", {"decision": "approve", "reason": "Short of target."},
                            content_type="application/json")
    assert decided.status_code == 201 and decided.json()["play"]["status"] == "approved"
    assert [p["status"] for p in mo.get(f"/api/projects/{pid}/plays/").json()][:3] == ["approved", "ready", "locked"]
    assert Play.objects.get(pk=play_id).decisions.get().decided_by.username == "approver"

    admin = make_user("root", staff=True)
    assert admin.is_staff
    trail = signed_in("root").get(f"/api/audit/?project={pid}").json()["results"]
    actions = [e["action"] for e in trail]
    assert {"job.failed", "job.succeeded", "play.submitted", "gate.approve"} <= set(actions)
    assert AuditEvent.objects.filter(action="job.started").count() == 2
    call_command("verify_audit")


def test_a_redelivered_job_message_does_not_run_twice(celery_worker_process, make_user):
    from apps.jobs.runner import job_execute
    from tests.helpers import GOOD_DELIVERABLE

    make_user("owner")
    mo = signed_in("owner")
    pid = mo.post("/api/projects/", {"name": "P", "request": "R"}, content_type="application/json").json()["id"]
    play_id = mo.get(f"/api/projects/{pid}/plays/").json()[0]["id"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    dataset = mo.post(f"/api/projects/{pid}/datasets/",
                      {"file": SimpleUploadedFile("s.csv", SAMPLE_CSV.encode())}).json()["id"]
    mo.patch(f"/api/plays/{play_id}/", {"deliverable": {**GOOD_DELIVERABLE, "baseline_dataset": dataset}},
             content_type="application/json")
    job = mo.post("/api/jobs/", {"play": play_id, "kind": "baseline", "params": {"folds": 3}},
                  content_type="application/json").json()
    assert poll_job(mo, job["id"])["status"] == "succeeded"
    started = AuditEvent.objects.filter(action="job.started").count()
    assert job_execute(job["id"]) == "skipped"  # the same message delivered again: nothing happens
    assert AuditEvent.objects.filter(action="job.started").count() == started
