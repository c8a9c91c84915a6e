"""Words and feedback: a refused form names every bad field at once in plain words, marks each field and keeps
what was typed; the API answers the same problems under `fields`; no message text names an internal field; a
job start says nothing that goes stale; the audit trail reads as differences, groups a label audit's answers
and takes ISO dates."""
import ast
import json
import re
from pathlib import Path

import pytest
from django.test import Client

from apps.accounts.services import token_issue
from apps.audit.models import AuditEvent
from apps.core.errors import FieldErrors, ValidationFailed
from apps.datasets.services import dataset_upload
from apps.jobs.models import Job
from apps.playbook.services import play_update_deliverable

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# An internal name: a snake_case identifier (min_margin, baseline_dataset) or a dotted path (params.dataset).
INTERNAL = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b[a-z]+\.[a-z_]+\b")
ALLOWED_DOTTED = {"e.g", "i.e"}


FILE_NAME = re.compile(r"[a-z_]+\.(json|jsonl|csv|pdf|html|txt|onnx)")


def internal_names(text: str) -> list[str]:
    """The internal names in a message (a file's name, such as config.json, is not one)."""
    return [m for m in INTERNAL.findall(text) if m not in ALLOWED_DOTTED and not FILE_NAME.fullmatch(m)]


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")


BAD_PLAY1 = {"problem_statement": "Route each support ticket to the queue that can answer it fastest.",
             "metric": "accuracy", "direction": "higher", "target": "85%", "min_margin": "-0.5",
             "positive_label": "", "baseline_dataset": ""}


# --- the error itself ----------------------------------------------------------------------------------


def test_field_errors_collects_every_field_and_sums_them_up():
    errors = FieldErrors()
    with errors.on("target"):
        raise ValidationFailed("Give the target as a number.")
    with errors.on("min_margin"):
        pass
    errors.add("metric", "Choose the metric from the list.")
    with pytest.raises(ValidationFailed) as caught:
        errors.raise_if_any()
    assert caught.value.fields == {"target": "Give the target as a number.",
                                   "metric": "Choose the metric from the list."}
    assert caught.value.message.startswith("2 fields need fixing:")
    assert "Give the target as a number." in caught.value.message and "Choose the metric" in caught.value.message
    assert caught.value.extra["fields"] == caught.value.fields
    FieldErrors().raise_if_any()  # nothing noted: nothing raised


# --- Play 1's deliverable: service, page, API ---------------------------------------------------------


def test_play1_refuses_every_bad_field_at_once_in_plain_words(team):
    play, before = team["play1"], dict(team["play1"].deliverable)
    with pytest.raises(ValidationFailed) as caught:
        play_update_deliverable(actor=team["mo"], play=play, deliverable={**BAD_PLAY1, "direction": "lower"})
    fields = caught.value.fields
    assert set(fields) == {"target", "min_margin", "direction"}
    assert "Give the target as a number" in fields["target"] and "'85%'" in fields["target"]
    assert "minimum margin over the baseline" in fields["min_margin"] and "from 0 to 1" in fields["min_margin"]
    assert "Accuracy is better when higher" in fields["direction"]
    for message in [caught.value.message, *fields.values()]:
        assert not internal_names(message), message
    play.refresh_from_db()
    assert play.deliverable == before


def test_play1_target_out_of_range_says_what_to_type(team):
    with pytest.raises(ValidationFailed) as caught:
        play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={"metric": "accuracy", "target": "85"})
    assert caught.value.fields == {"target": "Give the target for accuracy as a number between 0 and 1, "
                                             "e.g. 0.85 for 85%."}


def test_the_play1_page_marks_each_field_keeps_what_was_typed_and_saves_nothing(team):
    play, page = team["play1"], _page(team["mo"])
    events = AuditEvent.objects.count()
    response = page.post(f"/plays/{play.pk}/", BAD_PLAY1)
    assert response.status_code == 400
    html = response.content.decode()
    # One summary at the top, each message next to its field, the field marked and described by it.
    assert "Nothing was saved. 2 fields need fixing: Give the target as a number" in html
    assert html.count('class="msg error"') == 1
    assert re.search(r'name="target"[^>]*value="85%"[^>]*aria-invalid="true" aria-describedby="error-target" '
                     r'class="field-invalid"', html)
    assert re.search(r'name="min_margin"[^>]*value="-0.5"[^>]*aria-invalid="true"', html)
    assert '<span class="field-error" id="error-target">Give the target as a number' in html
    assert 'id="error-min_margin"' not in html and 'id="error-min-margin"' in html
    assert 'name="metric" aria-invalid' not in html  # a good field is not marked
    assert "Route each support ticket to the queue" in html  # what was typed stays
    play.refresh_from_db()
    assert play.deliverable.get("target") is None and AuditEvent.objects.count() == events


def test_the_api_answers_the_same_fields_under_their_api_names(team):
    play = team["play1"]
    response = _api(team["mo"]).patch(f"/api/plays/{play.pk}/", json.dumps({"deliverable": BAD_PLAY1}),
                                      content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["fields"]) == {"target", "min_margin"}
    assert body["error"].startswith("2 fields need fixing:") and body["fields"]["target"] in body["error"]


# --- job starts -----------------------------------------------------------------------------------------


def _with_dataset(team, sample_upload):
    dataset = dataset_upload(actor=team["mo"], project=team["project"], upload=sample_upload())
    play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={"baseline_dataset": dataset.pk})
    return team["play1"]


def test_a_refused_job_start_marks_each_setting_and_keeps_what_was_typed(team, sample_upload):
    play = _with_dataset(team, sample_upload)
    response = _page(team["mo"]).post(f"/plays/{play.pk}/jobs/", {"kind": "baseline", "folds": "1", "seed": "x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'name="folds" value="1"[^>]*aria-invalid="true"', html)
    assert re.search(r'name="seed" value="x"[^>]*aria-invalid="true"', html)
    assert "Give the number of folds as a whole number from 2 to 1,000 (not 1)." in html
    assert "Give the random seed as a whole number from 0 to 2,147,483,647." in html
    assert not Job.objects.filter(play=play).exists()

    response = _api(team["mo"]).post("/api/jobs/", {"play": play.pk, "kind": "baseline",
                                                   "params": {"folds": 1, "seed": -1}}, content_type="application/json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"folds", "seed"}


def test_a_job_start_leaves_no_message_that_goes_stale(team, sample_upload):
    """The job panel says queued, running, finished; a "Job #N queued." line at the top stayed after the job
    had finished on screen."""
    play = _with_dataset(team, sample_upload)
    page = _page(team["mo"])
    response = page.post(f"/plays/{play.pk}/jobs/", {"kind": "baseline", "folds": "3", "seed": "0"})
    assert response.status_code == 302 and response["Location"].endswith(f"/plays/{play.pk}/#job")
    job = Job.objects.get(play=play)
    html = page.get(response["Location"]).content.decode()
    assert "queued." not in html and 'class="msg' not in html
    assert f"#{job.pk}" in html  # the job panel itself shows the job


# --- no internal names in messages ------------------------------------------------------------------


def _validation_texts():
    """Every literal text a ValidationFailed is raised with, in the apps, with where it is."""
    for path in sorted((ROOT / "apps").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "ValidationFailed") or not node.args:
                continue
            yield f"{path.relative_to(ROOT)}:{node.lineno}", _literal_text(node.args[0])


def _literal_text(node) -> str:
    """The literal words of a message expression; each interpolated value reads as "…"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal_text(v) if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) + _literal_text(node.right)
    return "…"


def test_the_scan_sees_the_raises_and_catches_an_internal_name():
    texts = dict(_validation_texts())
    assert len(texts) > 100
    assert internal_names("params.dataset must be a dataset id") == ["params.dataset"]
    assert internal_names("min_margin must be between 0 and 1") == ["min_margin"]
    assert internal_names("Give the target as a number, e.g. 0.85.") == []


def test_no_validation_message_names_an_internal_field():
    offending = {where: names for where, text in _validation_texts() if (names := internal_names(text))}
    assert offending == {}


# --- the audit trail ------------------------------------------------------------------------------------


def _event(action="play.deliverable_updated", *, at=None, monkeypatch=None, **kwargs):
    from apps.audit.services import audit_record

    if at is not None:
        monkeypatch.setattr("apps.audit.services.timezone.now", lambda: at)
    return audit_record(actor=kwargs.pop("actor", "system"), action=action, **kwargs)


def test_event_changes_reads_as_a_difference_field_by_field():
    from apps.audit.selectors import event_changes

    long_old, long_new = "old words " * 20, "new words " * 20
    changes = {c.field: c for c in event_changes(
        {"target": 0.9, "note": long_old, "gone": 1, "same": "x", "policy": {"lookback": 3, "alpha": 0.05}},
        {"target": 0.85, "note": long_new, "new": "a", "same": "x", "policy": {"lookback": 5, "alpha": 0.05}})}
    assert set(changes) == {"target", "note", "gone", "new", "policy.lookback"}  # unchanged fields left out
    assert (changes["target"].kind, changes["target"].old, changes["target"].new) == ("changed", "0.9", "0.85")
    assert changes["gone"].kind == "removed" and changes["new"].kind == "added"
    assert (changes["policy.lookback"].old, changes["policy.lookback"].new) == ("3", "5")
    note = changes["note"]
    assert len(note.old) <= 80 and note.old.endswith("…") and note.old_full == long_old
    assert [c.kind for c in event_changes(None, {"name": "Ticket routing"})] == ["set"]


def test_the_audit_page_shows_before_and_after_as_a_difference(team):
    _event(before={"target": 0.9, "gone": "yes", "note": "a " * 100}, after={"target": 0.85, "new": "added",
                                                                            "note": "b " * 100},
           object_type="play", object_id="1")
    html = _page(team["admin"]).get("/audit/").content.decode()
    assert "<code>target</code>: <del>0.9</del> → <ins>0.85</ins>" in html
    assert '<code>gone</code>: <del>yes</del> <span class="tag">removed</span>' in html
    assert '<code>new</code>: <ins>added</ins> <span class="tag">added</span>' in html
    assert f'title="{"b " * 100}"' in html.replace("&#x27;", "'")  # the whole of a long text, elided on the page
    assert "{&#x27;target&#x27;" not in html  # no raw dictionaries


def test_a_label_audits_answers_fold_into_one_expandable_row(team):
    for item, (label, original) in enumerate([("billing", "billing"), ("bug", "billing"), ("access", "access"),
                                              ("bug", "access")], start=1):
        _event("label_audit.answered", actor=team["do"], object_type="labelaudit", object_id="7",
               after={"item": item, "label": label, "original": original})
    _event("label_audit.answered", actor=team["do"], object_type="labelaudit", object_id="8",
           after={"item": 9, "label": "bug", "original": "bug"})
    html = _page(team["admin"]).get("/audit/").content.decode()
    assert "<summary>Label audit #7: 4 answers by do, 2 disagreements</summary>" in html
    assert html.count('class="audit-group"') == 1  # audit #8's single answer stays a plain row
    assert "<del>billing</del> → <ins>bug</ins>" in html and html.count("disagrees</span>") == 2


def test_the_audit_dates_take_iso_dates_and_times(team, monkeypatch):
    from datetime import datetime, timezone as tz

    early = _event(at=datetime(2026, 12, 2, 23, 0, tzinfo=tz.utc), monkeypatch=monkeypatch, object_id="early")
    morning = _event(at=datetime(2026, 12, 3, 9, 0, tzinfo=tz.utc), monkeypatch=monkeypatch, object_id="morning")
    evening = _event(at=datetime(2026, 12, 3, 18, 30, tzinfo=tz.utc), monkeypatch=monkeypatch, object_id="evening")
    monkeypatch.undo()
    page = _page(team["admin"])

    def shown(query):
        response = page.get("/audit/", query)
        assert response.status_code == 200, response.content.decode()[:500]
        return {e.pk for e in response.context["page"].object_list} & {early.pk, morning.pk, evening.pk}

    assert shown({"since": "2026-12-03"}) == {morning.pk, evening.pk}
    assert shown({"until": "2026-12-03"}) == {early.pk, morning.pk, evening.pk}  # the whole day
    assert shown({"until": "2026-12-02"}) == {early.pk}
    assert shown({"since": "2026-12-03T10:00"}) == {evening.pk}
    assert shown({"since": "2026-12-03 08:00", "until": "2026-12-03T10:00"}) == {morning.pk}
    assert shown({"since": "2026-12-03T10:00+01:00"}) == {morning.pk, evening.pk}


def test_a_bad_audit_date_is_refused_with_a_clear_message_and_kept(team):
    response = _page(team["admin"]).get("/audit/", {"since": "03/12/2026", "until": "2026-12-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert ("Give the “from” date as an ISO date like 2026-12-03, or a date and time like 2026-12-03T10:00 "
            "(“03/12/2026” is neither).") in html
    assert re.search(r'name="since" value="03/12/2026"[^>]*aria-invalid="true" aria-describedby="error-since date-hint"', html)
    assert 'name="until" value="2026-12-01" placeholder="2026-12-03T18:00" size="16" aria-describedby="date-hint">' in html
    swapped = _page(team["admin"]).get("/audit/", {"since": "2026-12-03", "until": "2026-12-01"})
    assert swapped.status_code == 400 and "The “to” date is before the “from” date" in swapped.content.decode()
    api = _api(team["admin"]).get("/api/audit/", {"since": "yesterday"})
    assert api.status_code == 400 and set(api.json()["fields"]) == {"since"}


# --- Play 3's seal form, and messages about work in progress ---------------------------------------


@pytest.fixture
def play3(team, sample_upload, monkeypatch):
    from apps.playbook.services import gate_decide
    from tests.helpers import submitted_play1, walk_past

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play = walk_past(team, play1, [2], monkeypatch)
    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    return play_update_deliverable(actor=team["do"], play=play, deliverable={"dataset": dataset.pk})


def test_a_refused_seal_marks_every_bad_share_and_keeps_what_was_typed(team, play3):
    page = _page(team["do"])
    jobs = Job.objects.count()
    response = page.post(f"/plays/{play3.pk}/seal/", {"train": "most", "val": "0.15", "test": "", "seed": "-3"})
    assert response.status_code == 400
    html = response.content.decode()
    for name, typed in (("train", "most"), ("test", ""), ("seed", "-3")):
        assert re.search(rf'name="{name}" value="{typed}"[^>]*aria-invalid="true"', html), name
    assert not re.search(r'name="val" value="0.15"[^>]*aria-invalid', html)
    assert "Give the training share as a number such as 0.7." in html
    assert "Give the test share as a number such as 0.7." in html
    assert "Give the random seed as a whole number from 0 to 2,147,483,647." in html
    assert Job.objects.count() == jobs


def test_a_message_about_work_in_progress_goes_when_the_job_finishes(team, play3):
    """The seal's "a worker splits them... the page updates when it is done" is marked transient, and the
    page loads the script that removes transient messages on the progress fragment's job-finished event."""
    page = _page(team["do"])
    response = page.post(f"/plays/{play3.pk}/seal/", {"train": "0.7", "val": "0.15", "test": "0.15", "seed": "0"})
    html = page.get(response["Location"]).content.decode()
    assert re.search(r'<li class="msg transient success">Sealing the splits \(job #\d+', html)
    assert '<script src="/static/js/messages.js" defer></script>' in html
    script = (ROOT / "static/js/messages.js").read_text()
    assert '"job-finished"' in script and '".msg.transient"' in script


def test_a_refused_gate_decision_keeps_the_reason_and_marks_it(team, sample_upload):
    from tests.helpers import submitted_play1

    play = submitted_play1(team, sample_upload)
    page = _page(team["so"])
    missing = page.post(f"/plays/{play.pk}/decide/", {"decision": "reject", "reason": "  "})
    assert missing.status_code == 400
    html = missing.content.decode()
    assert re.search(r'<textarea name="reason"[^>]*aria-invalid="true" aria-describedby="error-reason"', html)
    assert "Write a reason for this decision" in html
    typed = page.post(f"/plays/{play.pk}/decide/", {"decision": "bogus", "reason": "The margin is too thin to act on."})
    assert typed.status_code == 400
    assert re.search(r'<textarea name="reason"[^>]*>The margin is too thin to act on.</textarea>', typed.content.decode())
    play.refresh_from_db()
    assert play.status == "submitted"
