"""Play 3 defects: an empty choice stored in the deliverable, uploads written before the permission check,
label consistency judged on the biased part of the audit, and the auditor's workflow (default, cancel,
reassign, the text of each disagreement)."""
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, NotAllowed, ValidationFailed
from apps.datasets import curation
from apps.datasets.models import Dataset, LabelAudit
from apps.datasets.services import dataset_upload
from apps.core import registry
from apps.playbook.models import Play
from apps.playbook.services import play_update_deliverable
from tests.helpers import prepare_audit, run_job, seal_now
from tests.unit.test_play3 import api, csv_bytes, play3  # noqa: F401  (play3 is a fixture)
from demo.generate import generate
from workers.engine.label_audit import wilson_interval

pytestmark = pytest.mark.django_db


def labelled_dataset(team, uploader="do", rows=300) -> Dataset:
    data, _ = generate(seed=5, rows=rows, production_rows=10)
    return dataset_upload(actor=team[uploader], project=team["project"],
                          upload=SimpleUploadedFile("tickets.csv", csv_bytes(data)))


def page_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored_files() -> set[str]:
    folder = Path(settings.DATA_DIR) / "artifacts" / "datasets"
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def writes() -> tuple:
    return (Dataset.objects.count(), stored_files(), AuditEvent.objects.exclude(action__startswith="auth.").count())


# --- 1. an empty choice means none, and a stored deliverable never breaks a page ---------------------


def test_saving_with_no_audit_chosen_stores_none_and_the_pages_still_answer(team, play3):
    dataset = labelled_dataset(team, rows=60)
    page = page_for(team["do"])
    saved = page.post(f"/plays/{play3.pk}/", {"dataset": str(dataset.pk), "audit": "", "balance_note": ""})
    assert saved.status_code == 302
    play3.refresh_from_db()
    assert play3.deliverable["dataset"] == dataset.pk and play3.deliverable["audit"] is None
    assert page.get(f"/plays/{play3.pk}/").status_code == 200
    assert api(team["so"]).get(f"/api/plays/{play3.pk}/").status_code == 200
    # Choosing "—" for the dataset too clears it, as None.
    assert page.post(f"/plays/{play3.pk}/", {"dataset": "", "audit": " "}).status_code == 302
    play3.refresh_from_db()
    assert play3.deliverable["dataset"] is None and play3.deliverable["audit"] is None
    assert page.get(f"/plays/{play3.pk}/").status_code == 200


@pytest.mark.parametrize("junk", ["", " ", "abc", "12x", [3], {"id": 1}, True, 2.5, -1, 10**12])
def test_any_value_already_stored_in_the_deliverable_never_breaks_the_page_or_the_api(team, play3, junk):
    # Values written before validation was fixed: only a direct write can plant them now.
    Play.objects.filter(pk=play3.pk).update(deliverable={
        "dataset": junk, "audit": junk, "balance_note": junk, "representativeness_note": junk,
        "leakage_justification": junk})
    assert page_for(team["do"]).get(f"/plays/{play3.pk}/").status_code == 200
    response = api(team["so"]).get(f"/api/plays/{play3.pk}/")
    assert response.status_code == 200
    play3.refresh_from_db()
    checks = {c.key: c for c in registry.play_module(3).checks(play3)}
    assert not checks["labels_audited"].passed and not checks["splits_sealed"].passed


# --- 2. a refused production sample writes nothing -----------------------------------------------------


@pytest.fixture
def sealed(team, play3):
    dataset = labelled_dataset(team, rows=120)
    seal_now(team["do"], dataset)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk})
    return dataset


def production_file():
    _, production = generate(seed=5, rows=10, production_rows=40)
    return SimpleUploadedFile("prod.csv", csv_bytes(production))


@pytest.mark.parametrize("persona, status", [("mo", 403), ("so", 403), ("outsider", 404)])
@pytest.mark.parametrize("route", ["page", "api"])
def test_a_production_sample_from_someone_who_may_not_curate_writes_nothing(team, play3, sealed, persona, status,
                                                                            route):
    before = writes()
    if route == "page":
        response = page_for(team[persona]).post(f"/plays/{play3.pk}/production/", {"file": production_file()})
    else:
        response = api(team[persona]).post(f"/api/datasets/{sealed.pk}/production-sample/",
                                           {"file": production_file()})
    assert response.status_code == status
    assert writes() == before
    assert not Dataset.objects.filter(kind="production_sample").exists()


def test_a_production_sample_before_the_splits_are_sealed_writes_nothing(team, play3):
    dataset = labelled_dataset(team, rows=60)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk})
    before = writes()
    response = api(team["do"]).post(f"/api/datasets/{dataset.pk}/production-sample/", {"file": production_file()})
    assert response.status_code == 409 and "Seal the dataset's splits first" in response.json()["error"]
    assert writes() == before
    shown = page_for(team["do"]).post(f"/plays/{play3.pk}/production/", {"file": production_file()}, follow=True)
    assert "Seal the dataset&#x27;s splits first" in shown.content.decode()
    assert writes() == before


def test_the_data_owner_still_compares_a_production_sample_from_the_page(team, play3, sealed):
    from apps.jobs.models import Job

    shown = page_for(team["do"]).post(f"/plays/{play3.pk}/production/", {"file": production_file()}, follow=True)
    assert "Production sample stored (40 rows); a worker compares it" in shown.content.decode()
    job = Job.objects.get(kind="compare_production")
    assert job.play_id == play3.pk and job.created_by == team["do"]  # shown on the Play 3 page
    assert run_job(job.pk).status == "succeeded"
    production = Dataset.objects.get(kind="production_sample")
    assert production.resemblance_reports.count() == 1
    assert AuditEvent.objects.filter(action="dataset.production_compared").count() == 1


# --- 3. consistency is judged on the random part ---------------------------------------------------------


def finished_audit(team, dataset, *, size=100, random_disagree=2, flagged_agree=5, resolve=True) -> LabelAudit:
    """An audit by `so` in which the random part disagrees `random_disagree` times and the flagged part
    agrees only `flagged_agree` times; every disagreement then kept by the data owner with a note."""
    audit = curation.label_audit_start(actor=team["do"], dataset=dataset, size=size, auditor="so")
    assert prepare_audit(audit.pk) == "open"
    other = {label: next(x for x in dataset.labels if x != label) for label in dataset.labels}
    seen = {"random": 0, "flagged": 0}
    for item in audit.items.order_by("position"):
        seen[item.part] += 1
        wrong = seen[item.part] <= random_disagree if item.part == "random" else seen[item.part] > flagged_agree
        curation.label_audit_answer(actor=team["so"], audit=audit, item_id=item.pk,
                                    label=other[item.original_label] if wrong else item.original_label)
    audit.refresh_from_db()
    assert audit.status == "complete"
    if resolve:
        for item in audit.items.all():
            if item.answer != item.original_label:
                curation.label_audit_resolve(actor=team["do"], audit=audit, item_id=item.pk, action="keep",
                                             note="The original label stands.")
    return audit


def test_labels_are_judged_consistent_on_the_random_part_not_on_the_error_ranked_part(team, play3):
    dataset = labelled_dataset(team)
    audit = finished_audit(team, dataset)
    play = play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk, "audit": audit.pk})
    checks = {c.key: c for c in registry.play_module(3).checks(play)}
    assert checks["labels_audited"].passed, checks["labels_audited"].detail
    consistent = checks["labels_consistent"]
    assert consistent.passed, consistent.detail
    assert "random part" in consistent.detail and "96.0%" in consistent.detail
    assert "label-error rate" in checks["labels_audited"].detail
    assert consistent.evidence["error_rate"] == pytest.approx(0.04)

    summary = api(team["do"]).get(f"/api/audits/{audit.pk}/").json()
    assert summary["random_n"] == 50 and summary["flagged_n"] == 50
    assert summary["agreement"] == pytest.approx(0.96)
    assert summary["kappa"] == pytest.approx(summary["kappa_random"]) and summary["kappa"] > 0.9
    assert summary["flagged_precision"] == pytest.approx(45 / 50)
    assert summary["error_rate"] == pytest.approx(0.04)
    assert summary["error_rate_ci"] == pytest.approx(list(wilson_interval(2, 50)))
    assert summary["kappa_all"] < summary["kappa"]  # the figure over the whole, biased, sample

    html = page_for(team["do"]).get(f"/plays/{play3.pk}/").content.decode()
    assert "Estimated label-error rate of the whole dataset" in html and "4.0%" in html


def test_results_stored_before_the_fix_are_read_with_todays_meanings(team, play3):
    dataset = labelled_dataset(team)
    audit = finished_audit(team, dataset)
    # What audit_results stored until now: "kappa" over the whole sample, no error rate. Only a direct
    # write can plant it.
    r = dict(audit.results)
    legacy = {**{k: v for k, v in r.items() if k not in ("kappa_all", "error_rate", "error_rate_ci",
                                                          "flagged_precision_ci")}, "kappa": r["kappa_all"]}
    LabelAudit.objects.filter(pk=audit.pk).update(results=legacy)
    play = play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk, "audit": audit.pk})
    assert {c.key: c for c in registry.play_module(3).checks(play)}["labels_consistent"].passed
    summary = api(team["do"]).get(f"/api/audits/{audit.pk}/").json()
    assert summary["kappa"] == pytest.approx(r["kappa_random"]) and summary["kappa_all"] == pytest.approx(r["kappa_all"])
    assert summary["error_rate"] == pytest.approx(0.04)
    assert summary["error_rate_ci"] == pytest.approx(list(wilson_interval(2, 50)))


def test_a_random_part_that_disagrees_a_lot_still_fails_the_consistency_check(team, play3):
    dataset = labelled_dataset(team)
    audit = finished_audit(team, dataset, random_disagree=15, flagged_agree=50)
    play = play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk, "audit": audit.pk})
    consistent = {c.key: c for c in registry.play_module(3).checks(play)}["labels_consistent"]
    assert not consistent.passed and "70.0%" in consistent.detail


# --- 4. the auditor's workflow -----------------------------------------------------------------------


def default_auditor(html: str, action: str) -> str:
    form = re.search(rf'action="{re.escape(action)}".*?<select name="auditor"[^>]*>(.*?)</select>', html, re.S)
    options = re.findall(r'<option value="([^"]+)"( selected)?', form.group(1))
    chosen = [value for value, selected in options if selected]
    return chosen[0] if chosen else options[0][0]


def test_the_auditor_defaults_to_another_member_than_the_current_user_and_the_uploader(team, play3):
    dataset = labelled_dataset(team, uploader="mo", rows=60)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk})
    html = page_for(team["do"]).get(f"/plays/{play3.pk}/").content.decode()
    assert default_auditor(html, f"/plays/{play3.pk}/audit/") not in ("do", "mo")


def test_an_audit_is_cancelled_by_the_data_owner_until_the_first_answer(team, play3):
    dataset = labelled_dataset(team, rows=60)
    audit = curation.label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    with pytest.raises(NotAllowed):
        curation.label_audit_cancel(actor=team["mo"], audit=audit)
    cancelled = curation.label_audit_cancel(actor=team["do"], audit=audit)  # while still preparing
    assert cancelled.status == "cancelled"
    assert AuditEvent.objects.filter(action="label_audit.cancelled", object_id=str(audit.pk)).count() == 1
    assert prepare_audit(audit.pk) == "cancelled"  # a late worker leaves it alone
    assert not cancelled.items.exists()
    html = page_for(team["so"]).get(f"/audits/{audit.pk}/").content.decode()
    assert 'id="audit-cancelled"' in html and "cancelled" in html
    with pytest.raises(Conflict):
        curation.label_audit_cancel(actor=team["do"], audit=audit)
    # A cancelled audit does not block the next one.
    second = curation.label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    prepare_audit(second.pk)
    item = second.items.order_by("position").first()
    curation.label_audit_answer(actor=team["so"], audit=second, item_id=item.pk, label=item.original_label)
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict, match="already answered"):
        curation.label_audit_cancel(actor=team["do"], audit=second)
    with pytest.raises(Conflict, match="already answered"):
        curation.label_audit_reassign(actor=team["do"], audit=second, auditor="so2")
    second.refresh_from_db()
    assert second.status == "open" and second.auditor == team["so"] and AuditEvent.objects.count() == events


def test_an_audit_is_reassigned_under_the_same_rules_as_starting_one(team, play3):
    dataset = labelled_dataset(team, rows=60)
    audit = curation.label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    prepare_audit(audit.pk)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed, match="second person"):
        curation.label_audit_reassign(actor=team["do"], audit=audit, auditor="do")  # the uploader
    with pytest.raises(ValidationFailed, match="member"):
        curation.label_audit_reassign(actor=team["do"], audit=audit, auditor="outsider")
    with pytest.raises(NotAllowed):
        curation.label_audit_reassign(actor=team["so"], audit=audit, auditor="so2")
    assert AuditEvent.objects.count() == events
    audit = curation.label_audit_reassign(actor=team["do"], audit=audit, auditor="so2")
    assert audit.auditor == team["so2"]
    event = AuditEvent.objects.get(action="label_audit.reassigned", object_id=str(audit.pk))
    assert event.before == {"auditor": "so"} and event.after == {"auditor": "so2"}
    assert api(team["so"]).get(f"/api/audits/{audit.pk}/next/").status_code == 403
    assert api(team["so2"]).get(f"/api/audits/{audit.pk}/next/").status_code == 200


def test_cancel_and_reassign_through_the_api_and_the_page(team, play3):
    dataset = labelled_dataset(team, rows=60)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk})
    owner = api(team["do"])
    first = owner.post(f"/api/datasets/{dataset.pk}/audit/", {"size": 10, "auditor": "so"},
                       content_type="application/json").json()["id"]
    moved = owner.post(f"/api/audits/{first}/reassign/", {"auditor": "so2"}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["auditor"] == "so2"
    bad = owner.post(f"/api/audits/{first}/reassign/", {"auditor": "do"}, content_type="application/json")
    assert bad.status_code == 400 and "second person" in bad.json()["error"]
    gone = owner.post(f"/api/audits/{first}/cancel/", {}, content_type="application/json")
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    assert owner.post(f"/api/audits/{first}/cancel/", {}, content_type="application/json").status_code == 409

    # The page: the Play 3 audit box offers both while nothing is answered.
    page = page_for(team["do"])
    page.post(f"/plays/{play3.pk}/audit/", {"size": 10, "auditor": "so"})
    second = LabelAudit.objects.exclude(pk=first).get()
    html = page.get(f"/plays/{play3.pk}/").content.decode()
    assert f'action="/audits/{second.pk}/cancel/"' in html and f'action="/audits/{second.pk}/reassign/"' in html
    response = page.post(f"/audits/{second.pk}/reassign/", {"auditor": "so2"})
    assert response.status_code == 302 and response["Location"] == f"/plays/{play3.pk}/#audit"
    second.refresh_from_db()
    assert second.auditor == team["so2"]
    shown = page.post(f"/audits/{second.pk}/cancel/", follow=True).content.decode()
    assert f"Audit #{second.pk} cancelled" in shown
    second.refresh_from_db()
    assert second.status == "cancelled"
    assert page_for(team["mo"]).post(f"/audits/{second.pk}/cancel/").status_code == 403


def test_the_disagreement_table_shows_the_text_being_judged(team, play3):
    dataset = labelled_dataset(team, rows=60)
    audit = finished_audit(team, dataset, size=10, random_disagree=1, flagged_agree=5, resolve=False)
    play_update_deliverable(actor=team["do"], play=play3, deliverable={"dataset": dataset.pk, "audit": audit.pk})
    rows = dataset.read_rows()
    summary = api(team["do"]).get(f"/api/audits/{audit.pk}/").json()
    assert summary["disagreements"]
    html = page_for(team["do"]).get(f"/plays/{play3.pk}/").content.decode()
    from django.utils.html import escape

    for d in summary["disagreements"]:
        assert d["text"] == rows[d["row"]]["text"]
        assert escape(rows[d["row"]]["text"]) in html
