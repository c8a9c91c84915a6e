"""Play 6's page: the drift thresholds and alert policy form (saved through the deliverable service, one
field per threshold, empty meaning the default), who may change them, and the gate's wording about which
package it judges. Plays 2-5 are walked past with stand-in gates, so no model is trained here."""
import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core import registry
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, play_update_deliverable
from tests.helpers import submitted_play1, walk_past
from workers.engine.drift import AlertPolicy

pytestmark = pytest.mark.django_db

DEFAULTS = AlertPolicy()


@pytest.fixture
def play6(team, sample_upload, monkeypatch):
    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    play = walk_past(team, play1, [2, 3, 4, 5], monkeypatch)
    assert play.number == 6 and play.status == Play.Status.READY
    # Something the thresholds form must leave alone.
    return play_update_deliverable(actor=team["mo"], play=play, deliverable={
        "live_metric_floor": 0.8, "monitoring_note": "The data owner reads drift alerts each Monday."})


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**values) -> dict:
    """Every field of the thresholds form, empty unless given (as a browser posts it)."""
    fields = {f"drift_thresholds.{k}": "" for k in DEFAULTS.thresholds}
    fields |= {f"alert_policy.{k}": "" for k in ("min_window", "persistence", "lookback", "cooldown_windows", "alpha")}
    return fields | {k.replace("__", "."): v for k, v in values.items()}


def _policy(play):
    return registry.play_module(6).alert_policy(Play.objects.get(pk=play.pk))


def test_the_form_shows_each_threshold_with_its_default_and_a_gloss(team, play6):
    html = _page(team["do"]).get(f"/plays/{play6.pk}/").content.decode()
    assert f'action="/plays/{play6.pk}/thresholds/"' in html
    for signal in DEFAULTS.thresholds:
        assert f'name="drift_thresholds.{signal}"' in html
    for key in ("min_window", "persistence", "lookback", "cooldown_windows", "alpha"):
        assert f'name="alert_policy.{key}"' in html
    assert "Input text drift (domain-classifier AUC)" in html and "Breaches at or above the threshold" in html
    assert "e.g. 2 of the last 3" in html
    assert '<td>0.6</td>' in html and 'placeholder="default"' in html  # the default, and an empty field uses it


def test_saving_the_form_changes_what_the_monitor_applies_and_nothing_else(team, play6):
    response = _page(team["do"]).post(f"/plays/{play6.pk}/thresholds/", _form(
        drift_thresholds__text="0.7", drift_thresholds__prediction_mix=" 0.2 ", alert_policy__persistence="3",
        alert_policy__lookback="4", alert_policy__min_window="150", alert_policy__alpha="0.05"))
    assert response.status_code == 302 and response["Location"].endswith("#thresholds")
    policy = _policy(play6)
    assert policy.thresholds["text"] == 0.7 and policy.thresholds["prediction_mix"] == 0.2
    assert policy.thresholds["embedding"] == DEFAULTS.thresholds["embedding"]  # left empty: the default
    assert (policy.persistence, policy.lookback, policy.min_window, policy.alpha) == (3, 4, 150, 0.05)
    assert policy.cooldown_windows == DEFAULTS.cooldown_windows
    play6.refresh_from_db()
    assert play6.deliverable["drift_thresholds"] == {"text": 0.7, "prediction_mix": 0.2}
    assert play6.deliverable["live_metric_floor"] == 0.8 and policy.performance_floor == 0.8
    assert play6.deliverable["monitoring_note"].startswith("The data owner")
    assert AuditEvent.objects.filter(action="play.deliverable_updated", actor=team["do"]).exists()
    html = _page(team["mo"]).get(f"/plays/{play6.pk}/").content.decode()
    assert 'name="drift_thresholds.text" value="0.7"' in html and "set by the owners" in html


def test_an_emptied_field_goes_back_to_the_default(team, play6):
    page = _page(team["mo"])
    page.post(f"/plays/{play6.pk}/thresholds/", _form(drift_thresholds__confidence="0.1", alert_policy__cooldown_windows="2"))
    assert _policy(play6).thresholds["confidence"] == 0.1 and _policy(play6).cooldown_windows == 2
    page.post(f"/plays/{play6.pk}/thresholds/", _form(alert_policy__cooldown_windows="2"))
    play6.refresh_from_db()
    assert "confidence" not in play6.deliverable["drift_thresholds"]
    assert _policy(play6).thresholds["confidence"] == DEFAULTS.thresholds["confidence"]
    assert _policy(play6).cooldown_windows == 2


@pytest.mark.parametrize("values,message", [
    ({"drift_thresholds__text": "high"},
     "Give the input text drift (domain-classifier AUC) as a number (&#x27;high&#x27; is not one)"),
    ({"alert_policy__persistence": "4", "alert_policy__lookback": "3"},
     "The persistence (4 windows) cannot exceed the lookback (3 windows)"),
    ({"alert_policy__persistence": "5"}, "cannot exceed the lookback (3 windows, the default)"),
    ({"alert_policy__lookback": "1"}, "The persistence (2 windows) cannot exceed the lookback (1 window)"),
    ({"alert_policy__alpha": "0.7"}, "Give the significance level (alpha) as a number above 0 and below 0.5"),
    ({"alert_policy__min_window": "2.5"}, "Give the minimum window size (predictions) as a whole number"),
    ({"drift_thresholds__prediction_mix": "-0.1"},
     "Give the threshold for the predicted-label mix (PSI) as a number above 0"),
    ({"drift_thresholds__text": "0.4"},
     "Give the threshold for the input text drift (domain-classifier AUC) as a number above 0.5 and at most 1"),
])
def test_bad_input_shows_the_services_message_keeps_what_was_typed_and_changes_nothing(team, play6, values, message):
    page = _page(team["do"])
    page.post(f"/plays/{play6.pk}/thresholds/", _form(drift_thresholds__embedding="0.01"))
    play6.refresh_from_db()
    before, events = dict(play6.deliverable), AuditEvent.objects.count()
    response = page.post(f"/plays/{play6.pk}/thresholds/", _form(alert_policy__cooldown_windows="9", **values))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'id="thresholds-error"' in html
    assert 'name="alert_policy.cooldown_windows" value="9"' in html  # the form keeps what was typed
    play6.refresh_from_db()
    assert play6.deliverable == before and AuditEvent.objects.count() == events
    assert _policy(play6).cooldown_windows == DEFAULTS.cooldown_windows


def test_a_signoff_owner_sees_the_values_read_only_and_cannot_change_them(team, play6):
    page = _page(team["so"])
    html = page.get(f"/plays/{play6.pk}/").content.decode()
    assert "Input text drift (domain-classifier AUC)" in html  # the values are shown
    assert 'name="drift_thresholds.text"' not in html and "Save the thresholds" not in html
    assert page.post(f"/plays/{play6.pk}/thresholds/", _form(drift_thresholds__text="0.99")).status_code == 403
    outsider = _page(team["outsider"])
    assert outsider.post(f"/plays/{play6.pk}/thresholds/", _form(drift_thresholds__text="0.99")).status_code == 404
    play6.refresh_from_db()
    assert "drift_thresholds" not in play6.deliverable
    assert _policy(play6).thresholds["text"] == DEFAULTS.thresholds["text"]


def test_the_form_only_posts_to_play6(team, play6):
    play1 = team["play1"]
    assert _page(team["mo"]).post(f"/plays/{play1.pk}/thresholds/", _form()).status_code == 404


def test_without_a_package_the_gate_says_the_job_has_not_built_one(team, play6):
    checks = {c.key: c for c in registry.play_module(6).checks(Play.objects.get(pk=play6.pk))}
    assert not checks["package"].passed and checks["package"].detail.startswith("No package yet")
    assert checks["floor"].passed and "set by the owners" in checks["floor"].detail
    assert checks["note"].passed
    play_update_deliverable(actor=team["mo"], play=play6, deliverable={"live_metric_floor": "", "monitoring_note": "ok"})
    checks = {c.key: c for c in registry.play_module(6).checks(Play.objects.get(pk=play6.pk))}
    assert checks["floor"].passed and "Play 1" in checks["floor"].detail  # Play 1's target, 0.99
    assert not checks["note"].passed and checks["note"].detail.startswith("Too short")


def test_every_bad_threshold_is_marked_at_once_next_to_its_field(team, play6):
    response = _page(team["do"]).post(f"/plays/{play6.pk}/thresholds/", _form(
        drift_thresholds__text="high", alert_policy__alpha="0.7", alert_policy__lookback="4"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved. 2 fields need fixing: Give the " in html
    for name in ("drift_thresholds.text", "alert_policy.alpha"):
        error = "error-" + name.replace(".", "-").replace("_", "-")
        assert f'name="{name}" value="' in html and f'aria-describedby="{error}" class="field-invalid">' in html
        assert f'<span class="field-error" id="{error}">Give the ' in html
    assert 'name="alert_policy.lookback" value="4" placeholder="default" inputmode="decimal" size="7">' in html
