"""The loop's data step, through the services, the worker's code path and the API on a live deployment of a
tiny random BERT: labelled production predictions become a new dataset version (parent set, provenance in
each row's meta; duplicates and texts the dataset holds left out; only the data owner; nothing stored on bad
input), and the retrain cycle's seal keeps the earlier splits fixed: old rows keep train or val, the earlier
test set becomes the golden split (read only by evaluation and packaging, every read recorded), and only the
new rows are split, their test share being the new test slice."""
from collections import Counter

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets.curation import dataset_seal, split_rows
from apps.datasets.models import Dataset, Split, SplitRead
from apps.datasets.play3 import PLAY as REAL_PLAY3
from apps.datasets.play3 import Play3Outputs
from apps.jobs.models import Job
from apps.monitoring.production_data import production_data_add
from apps.monitoring.traffic import feedback_ingest, predictions_ingest
from apps.playbook.models import Play
from apps.playbook.services import cycle_open_retrain
from demo.generate import generate
from tests.helpers import seal_now, use_plays
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import reach_play5
from tests.unit.test_play6 import _approved, _live, _package

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-retrain"), layers=2, seed=0)


@pytest.fixture
def live(team, sample_upload, monkeypatch, tiny_model):
    """Cycle 1 approved up to Play 6 (Play 3 handed on its sealed splits) and its package in production."""
    state = reach_play5(team, sample_upload, monkeypatch, tiny_model)
    play6 = _approved(team, state)
    deployment = _live(team, _package(play6))
    return {**state, "deployment": deployment, "dataset": state["split_set"].dataset}


def _send(deployment, rows, *, feedback=True, prefix="p"):
    """Log predictions (the model's label: the first label, whatever) and, if asked, their true labels."""
    labels = deployment.package.label_names
    share = [1.0 / len(labels)] * len(labels)
    logged = [{"id": f"{prefix}{i}", "text": r["text"], "label": labels[0], "probabilities": share,
               "at": f"2026-12-01T10:{i // 60:02d}:{i % 60:02d}Z"} for i, r in enumerate(rows)]
    predictions_ingest(deployment=deployment, rows=logged)
    if feedback:
        feedback_ingest(deployment=deployment, rows=[{"id": p["id"], "label": r["label"]} for p, r in zip(logged, rows)])
    return logged


def _fresh_rows(dataset, labels, n=45, seed=40):
    """``n`` labelled tickets whose texts the dataset does not hold, each text once."""
    held = {r["text"] for r in dataset.read_rows()}
    rows, seen = [], set()
    for r in generate(seed=seed, rows=4 * n, production_rows=10)[0]:
        if r["text"] not in held and r["text"] not in seen and r["label"] in labels:
            seen.add(r["text"])
            rows.append({"text": r["text"], "label": r["label"]})
    assert len(rows) >= n
    return rows[:n]


def _texts(split) -> list[str]:
    import json

    from apps.core import storage

    with open(storage.absolute(split.path), encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def test_labelled_production_predictions_become_a_new_version_with_its_parent_and_provenance(team, live):
    deployment, parent = live["deployment"], live["dataset"]
    fresh = _fresh_rows(parent, deployment.package.label_names)
    held = parent.read_rows()[0]
    logged = _send(deployment, fresh + [fresh[0], {"text": held["text"], "label": held["label"]}])
    _send(deployment, _fresh_rows(parent, deployment.package.label_names, n=3, seed=41), feedback=False, prefix="nf")
    before = Dataset.objects.count()

    version = production_data_add(actor=team["do"], deployment=deployment)

    assert Dataset.objects.count() == before + 1
    assert version.parent_id == parent.pk and version.kind == parent.kind
    assert version.rows == parent.rows + len(fresh)  # the duplicate text, the held text and unlabelled ones left out
    rows = version.read_rows()
    assert rows[:parent.rows] == parent.read_rows()  # the parent's rows first, unchanged
    added = rows[parent.rows:]
    assert [(r["text"], r["label"]) for r in added] == [(r["text"], r["label"]) for r in fresh]
    first = added[0]["meta"]
    assert first == {"source": "production", "deployment": str(deployment.pk), "prediction": logged[0]["id"],
                     "at": "2026-12-01T10:00:00+00:00"}
    event = AuditEvent.objects.get(action="dataset.rows_appended", object_id=str(version.pk))
    assert event.actor_id == team["do"].pk
    assert event.after["skipped"] == {"duplicates": 1, "already_in_dataset": 1, "conflicting_labels": 0,
                                      "unknown_label": 0}

    # Asked again while Play 3 is closed (the data work still builds on the version it handed on): the same
    # rows were added already, so the existing version is named and nothing new is stored.
    with pytest.raises(Conflict, match=f"Dataset #{version.pk} already adds exactly these rows"):
        production_data_add(actor=team["do"], deployment=deployment)
    assert Dataset.objects.count() == before + 1


def test_only_the_data_owner_adds_production_data_and_bad_input_stores_nothing(team, live):
    deployment, parent = live["deployment"], live["dataset"]
    url = f"/api/deployments/{deployment.pk}/production-data/"
    api = APIClient()
    before = (Dataset.objects.count(), AuditEvent.objects.count())

    # No prediction has feedback yet: a clear refusal, nothing stored.
    _send(deployment, _fresh_rows(parent, deployment.package.label_names, n=5), feedback=False)
    with pytest.raises(ValidationFailed, match="No new labelled production data"):
        production_data_add(actor=team["do"], deployment=deployment)
    api.force_authenticate(team["do"])
    response = api.post(url, {}, format="json")
    assert response.status_code == 400 and "No new labelled production data" in response.json()["error"]
    assert api.post(url, {"since": "not a date"}, format="json").status_code == 400
    assert (Dataset.objects.count(), AuditEvent.objects.count()) == before

    _send(deployment, _fresh_rows(parent, deployment.package.label_names, n=6, seed=42), prefix="q")
    for person in ("so", "mo", "outsider"):
        with pytest.raises(NotAllowed):
            production_data_add(actor=team[person], deployment=deployment)
    api.force_authenticate(team["so"])
    assert api.post(url, {}, format="json").status_code == 403
    api.force_authenticate(team["mo"])
    assert api.post(url, {}, format="json").status_code == 403
    api.force_authenticate(team["outsider"])
    assert api.post(url, {}, format="json").status_code == 404  # an outsider learns nothing of the deployment
    assert Dataset.objects.count() == before[0]
    # Only predictions from ``since`` on: the ones sent at 10:00:05 and later.
    api.force_authenticate(team["do"])
    response = api.post(url, {"since": "2026-12-01T10:00:05Z"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["parent"] == parent.pk and response.json()["rows"] == parent.rows + 1


def test_the_retrain_seal_keeps_old_rows_in_their_splits_and_the_old_test_set_as_golden(team, live, monkeypatch):
    deployment, parent, previous = live["deployment"], live["dataset"], live["split_set"]
    cycle2 = cycle_open_retrain(actor=None, project=team["project"], reason="Live metric under the floor",
                                signal={"window": 2, "deployment": deployment.pk, "reason": "macro-F1 0.41 < 0.70"})
    play3 = Play.objects.get(cycle=cycle2, number=3)
    assert play3.status == Play.Status.READY
    # Nothing new to split yet: re-sealing the handed-on dataset is refused, not reshuffled.
    with pytest.raises(ValidationFailed, match=f"extends split set #{previous.pk}"):
        dataset_seal(actor=team["do"], dataset=parent, train=0.6, val=0.2, test=0.2, seed=1)

    fresh = _fresh_rows(parent, deployment.package.label_names, n=45)
    _send(deployment, fresh)
    version = production_data_add(actor=team["do"], deployment=deployment)
    play3.refresh_from_db()
    assert play3.deliverable["dataset"] == version.pk  # chosen in Play 3 in the same step

    split_set = seal_now(team["do"], version, train=0.6, val=0.2, test=0.2, seed=1)

    old = {s.name: _texts(s) for s in previous.splits.all()}
    new = {s.name: _texts(s) for s in split_set.splits.all()}
    assert set(new) == {"train", "val", "test", "golden"}
    assert [s.name for s in split_set.splits.all()] == ["train", "val", "test", "golden"]
    # Fixed splits, never mixed: every earlier row keeps its split; the earlier test set is the golden set.
    assert Counter(old["train"]) <= Counter(new["train"])
    assert Counter(old["val"]) <= Counter(new["val"])
    assert sorted(new["golden"]) == sorted(old["test"])
    fresh_texts = {r["text"] for r in fresh}
    assert set(new["test"]) <= fresh_texts and new["test"]  # the new test slice: recent production only
    assert set(new["train"]) - set(old["train"]) <= fresh_texts
    assert set(new["val"]) - set(old["val"]) <= fresh_texts
    assert sum(len(v) for v in new.values()) == version.rows
    assert split_set.lineage["extends"] == previous.pk
    assert split_set.lineage["carried"] == {"train": len(old["train"]), "val": len(old["val"]),
                                            "golden": len(old["test"])}
    assert sum(split_set.lineage["new"].values()) == len(fresh)
    assert set(split_set.leakage["rows"]) == {"train", "val", "test", "golden"}  # the scan covers all four

    # Play 3 hands golden on beside test; a hand-off frozen before golden existed still loads.
    use_plays(monkeypatch, {3: REAL_PLAY3})
    outputs = REAL_PLAY3.outputs(play3)
    assert outputs.split_set == split_set.pk and outputs.extends == previous.pk
    assert outputs.golden == outputs.splits["golden"] == {"rows": len(old["test"]),
                                                          "sha256": split_set.splits.get(name="golden").sha256}
    legacy = {"dataset": 1, "dataset_sha256": "x", "split_set": 2, "splits": {}, "label_names": [], "audit": None,
              "resemblance_report": None}
    assert REAL_PLAY3.load_outputs(legacy, REAL_PLAY3.outputs_version) == Play3Outputs(**legacy)
    assert REAL_PLAY3.load_outputs(legacy, REAL_PLAY3.outputs_version).golden is None

    # The page says why the cycle opened, links to the production data, and shows the four splits.
    page = Client()
    page.force_login(team["do"])
    html = page.get(f"/plays/{play3.pk}/").content.decode()
    assert "Retrain cycle" in html and "Live metric under the floor" in html
    assert f"/deployments/{deployment.pk}/monitoring/#production-data" in html
    assert "add the labelled production data" in html and "Golden (earlier test)" in html
    assert f"Extends split set #{previous.pk}" in html
    monitoring = page.get(f"/deployments/{deployment.pk}/monitoring/").content.decode()
    assert "Add the labelled production data as a new dataset version" in monitoring
    page.force_login(team["so"])
    assert "Add the labelled production data" not in page.get(f"/deployments/{deployment.pk}/monitoring/").content.decode()


def test_golden_is_refused_to_training_and_every_read_is_recorded(team, live):
    from apps.training.play4 import _training_data

    deployment, parent = live["deployment"], live["dataset"]
    cycle_open_retrain(actor=team["mo"], project=team["project"], reason="New production data to learn from")
    _send(deployment, _fresh_rows(parent, deployment.package.label_names, n=30))
    split_set = seal_now(team["do"], production_data_add(actor=team["do"], deployment=deployment),
                         train=0.6, val=0.2, test=0.2, seed=1)
    golden = split_set.splits.get(name=Split.Name.GOLDEN)
    play4 = live["play4"]
    training = Job.objects.create(project=team["project"], play=play4, kind="frozen_head", queue="gpu",
                                  params={"split_set": split_set.pk})
    with pytest.raises(NotAllowed, match="golden"):
        split_rows(golden, job=training, purpose="training")
    with pytest.raises(NotAllowed):
        split_rows(golden, purpose="a look")
    assert not SplitRead.objects.filter(split=golden).exists()
    # Training loads train and val only, whatever else the split set holds.
    data, splits = _training_data(training, split_set.pk)
    assert set(splits) == {"train", "val"}
    assert len(data.train.texts) == split_set.splits.get(name="train").rows
    assert not SplitRead.objects.filter(split__split_set=split_set, split__name__in=["test", "golden"]).exists()
    # An evaluation job reads it, and the read is on the record.
    evaluation = Job.objects.create(project=team["project"], play=live["play"], kind="evaluate", queue="gpu", params={})
    rows = split_rows(golden, job=evaluation, purpose="evaluate: score on the golden set")
    assert len(rows) == golden.rows
    assert SplitRead.objects.filter(split=golden, job=evaluation).count() == 1
    assert AuditEvent.objects.filter(action="split.golden_read", object_id=str(golden.pk)).count() == 1


def test_extend_split_matches_copies_one_for_one_and_never_fails_on_a_small_new_class():
    from workers.engine.splits import extend_split

    previous = {"train": ["a", "b", "a"], "val": ["c"], "test": ["d"], "golden": ["e"]}
    texts = ["a", "b", "c", "d", "e", "a", "a", "n1", "n2", "n3", "n4", "n5", "n6"]
    labels = ["x"] * 7 + ["x", "x", "x", "x", "y", "z"]
    parts, lineage = extend_split(previous, texts, labels, train=0.6, val=0.2, test=0.2, seed=0)
    assert parts["golden"] == [3, 4]  # the earlier test and golden rows
    assert {0, 1, 5, 6} <= set(parts["train"]) and 2 in parts["val"]  # a third copy of "a" follows it to train
    assert sorted(i for name in ("train", "val", "test") for i in parts[name] if i >= 7) == list(range(7, 13))
    assert lineage["carried"] == {"train": 4, "val": 1, "golden": 2}
    assert lineage["warnings"] and "'y' (1), 'z' (1)" in lineage["warnings"][0]  # pooled with nothing: to train
    assert {11, 12} <= set(parts["train"]) and parts["test"]
    with pytest.raises(ValueError, match="only 2 row"):
        extend_split(previous, texts[:9], labels[:9], train=0.6, val=0.2, test=0.2, seed=0)
