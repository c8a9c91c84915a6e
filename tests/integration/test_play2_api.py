"""Play 2 through the API on the real pretrained encoder (all-MiniLM-L6-v2, loaded offline from its
package) and a shallower copy derived from it, with the bake-off run by a real worker on the gpu queue."""
import csv

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def signed_in(username: str) -> Client:
    client = Client()
    token = client.post("/api/auth/token/", {"username": username, "password": PASSWORD},
                        content_type="application/json").json()["token"]
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token}"
    return client


def test_bakeoff_on_real_encoders_through_the_api(celery_worker_process, make_user, tmp_path):
    from apps.ops.management.commands.seed_demo import demo_candidates
    from demo.generate import generate

    make_user("owner")
    make_user("approver")
    mo, so = signed_in("owner"), signed_in("approver")
    pid = mo.post("/api/projects/", {"name": "Routing", "request": "Route tickets."},
                  content_type="application/json").json()["id"]
    mo.post(f"/api/projects/{pid}/members/", {"username": "approver", "role": "signoff_owner"},
            content_type="application/json")
    rows, _ = generate(seed=11, rows=210, production_rows=10)
    sample = tmp_path / "sample.csv"
    with open(sample, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    with open(sample, "rb") as handle:
        dataset = mo.post(f"/api/projects/{pid}/datasets/", {"file": handle}).json()["id"]
    plays = mo.get(f"/api/projects/{pid}/plays/").json()
    mo.patch(f"/api/plays/{plays[0]['id']}/", {"deliverable": {
        "problem_statement": "Route each support ticket to the queue that can resolve it first time.",
        "metric": "macro_f1", "direction": "higher", "target": 0.99, "min_margin": 0.02,
        "baseline_dataset": dataset}}, content_type="application/json")
    baseline = mo.post("/api/jobs/", {"play": plays[0]["id"], "kind": "baseline", "params": {"folds": 3}},
                       content_type="application/json").json()
    assert wait_for_job(baseline["id"]).status == "succeeded"
    assert mo.post(f"/api/plays/{plays[0]['id']}/submit/").status_code == 200
    assert so.post(f"/api/plays/{plays[0]['id']}/decision/", {"decision": "approve"},
                   content_type="application/json").status_code == 201

    ids = []
    for candidate in demo_candidates():
        response = mo.post(f"/api/projects/{pid}/candidates/", candidate, content_type="application/json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    play2 = plays[1]["id"]
    assert mo.patch(f"/api/plays/{play2}/", {"deliverable": {"shortlist": ids}},
                    content_type="application/json").status_code == 200
    job = mo.post("/api/jobs/", {"play": play2, "kind": "bakeoff", "params": {"folds": 3}},
                  content_type="application/json").json()
    assert job["params"]["candidates"] == ids and job["params"]["dataset"] == dataset  # defaults from the plays
    finished = wait_for_job(job["id"], timeout=600)
    detail = mo.get(f"/api/jobs/{job['id']}/").json()
    assert finished.status == "succeeded", detail["error"]
    assert detail["device"] == "cpu" and len(detail["artifacts"]) == 2
    cards = detail["result"]["candidates"]
    full, shallow = cards[str(ids[0])], cards[str(ids[1])]
    assert full["parameters"] > shallow["parameters"]
    assert full["macro_f1"] > 0.5 and shallow["macro_f1"] > 0.5  # real encoders separate the classes
    assert detail["metrics"]  # progress reached the metric table while it ran

    best = detail["result"]["ranking"][0]
    mo.patch(f"/api/plays/{play2}/", {"deliverable": {
        "chosen_candidate": int(best), "rationale": "Highest probe macro-F1 on the labelled sample; Apache-2.0."}},
        content_type="application/json")
    assert mo.post(f"/api/plays/{play2}/submit/").json()["status"] == "submitted"
    assert so.post(f"/api/plays/{play2}/decision/", {"decision": "approve"},
                   content_type="application/json").status_code == 201
    assert [p["status"] for p in mo.get(f"/api/projects/{pid}/plays/").json()][:3] == ["approved", "approved", "ready"]
    assert (settings.DATA_DIR / "artifacts" / "features").exists()
