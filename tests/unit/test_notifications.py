"""Notifications, derived from the audit trail once a change commits: who is told what (deciders of a
waiting gate but never its submitter, a play's owners, an alert's audience, model and data owners when a
cycle opens), nothing for a rolled-back change, email only to people with an address and email on, an
email failure recorded without losing the notification, and each person reading only their own."""
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from apps.audit.models import AuditEvent
from apps.core.errors import NotFound, ValidationFailed
from apps.notifications.models import Notification
from apps.notifications.services import (
    notification_mark_read,
    notification_preferences_set,
    notifications_mark_all_read,
    notify_for_event,
)
from apps.playbook.models import Play
from apps.playbook.services import cycle_open_retrain, gate_decide, member_add, play_submit, play_update_deliverable
from tests.conftest import PASSWORD
from tests.helpers import passing_play, use_plays
from tests.unit import test_play6

pytestmark = pytest.mark.django_db

User = get_user_model()

# A real Play 6 package (a tiny model trained, evaluated and packaged through the services), for the monitor.
tiny_model, packaged = test_play6.tiny_model, test_play6.packaged


@pytest.fixture
def emails(team):
    """Everyone but the data owner has an email address."""
    for name in ("mo", "so", "so2", "outsider", "admin"):
        User.objects.filter(username=name).update(email=f"{name}@example.com")
    for name in ("mo", "so", "so2", "outsider", "admin"):
        team[name].refresh_from_db()
    return team


def recipients(action: str) -> set[str]:
    return set(Notification.objects.filter(event__action=action).values_list("recipient__username", flat=True))


def _submit_play1(team, monkeypatch, capture):
    """Play 1 worked and submitted by the model owner (its gate waved through: Play 1's own tests cover
    the real checks), with every after-commit reaction run."""
    use_plays(monkeypatch, {1: passing_play(1)})
    play = play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={})
    with capture(execute=True):
        play_submit(actor=team["mo"], play=play)
    return Play.objects.get(pk=play.pk)


def test_a_submitted_play_notifies_whoever_may_decide_its_gate_and_not_the_submitter(
        emails, monkeypatch, django_capture_on_commit_callbacks):
    team = emails
    # The model owner also signs off: the conflict-of-interest rule still keeps them off their own gate.
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    play = _submit_play1(team, monkeypatch, django_capture_on_commit_callbacks)

    assert recipients("play.submitted") == {"so", "so2"}
    note = Notification.objects.get(event__action="play.submitted", recipient=team["so"])
    assert note.kind == "gate_waiting" and note.title == "Play 1 waits for your decision"
    assert "mo submitted Play 1 (Scope and baseline)" in note.body and note.link == f"/plays/{play.pk}/"
    assert note.project == team["project"] and note.read_at is None
    # Email went to the two deciders, after commit, and the rows say so.
    assert sorted(m.to[0] for m in mail.outbox) == ["so2@example.com", "so@example.com"]
    assert mail.outbox[0].subject == "Play 1 waits for your decision" and f"/plays/{play.pk}/" in mail.outbox[0].body
    assert Notification.objects.filter(emailed_at__isnull=False).count() == 2

    # At most one notification per person and event, however often the event is replayed.
    event = AuditEvent.objects.get(action="play.submitted")
    assert notify_for_event(event) == []
    assert Notification.objects.filter(event=event).count() == 2


def test_a_rolled_back_change_notifies_nobody(team, monkeypatch, django_capture_on_commit_callbacks):
    module = passing_play(1)

    def fails_after_the_decision_is_written(play, record):
        raise RuntimeError("the record could not be queued")

    module.on_decided = fails_after_the_decision_is_written
    use_plays(monkeypatch, {1: module})
    play = play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={})
    play_submit(actor=team["mo"], play=play)
    Notification.objects.all().delete()  # the submission's callbacks did not run; start clean anyway
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            gate_decide(actor=team["so"], play=play, decision="approve")
    assert callbacks == []
    assert not AuditEvent.objects.filter(action="gate.approve").exists()
    assert Notification.objects.count() == 0


def test_a_decision_tells_the_plays_owners_and_the_next_play_its_owners(
        emails, monkeypatch, django_capture_on_commit_callbacks):
    team = emails
    play = _submit_play1(team, monkeypatch, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        gate_decide(actor=team["so"], play=play, decision="reject", reason="The baseline was measured on 12 rows.")
    rejected = Notification.objects.get(event__action="gate.reject")
    assert rejected.recipient == team["mo"] and rejected.kind == "gate_decided"
    assert rejected.title == "Play 1 rejected" and "measured on 12 rows" in rejected.body
    assert recipients("gate.reject") == {"mo"}  # not the decider, not the other roles

    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={})
    with django_capture_on_commit_callbacks(execute=True):
        play_submit(actor=team["mo"], play=play)
        gate_decide(actor=team["so2"], play=play, decision="approve")
    assert recipients("gate.approve") == {"mo"}
    ready = Notification.objects.get(event__action="play.ready", recipient=team["mo"])
    play2 = Play.objects.get(cycle=play.cycle, number=2)
    assert ready.title == "Play 2 is ready for you" and ready.link == f"/plays/{play2.pk}/"
    assert recipients("play.ready") == {"mo"}


def test_a_cycle_opened_by_a_person_tells_the_model_and_data_owners(
        emails, sample_upload, monkeypatch, django_capture_on_commit_callbacks):
    from tests.unit.test_registry_and_lifecycle import _through_play4

    team = emails
    _through_play4(team, sample_upload, monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        cycle = cycle_open_retrain(actor=team["do"], project=team["project"], reason="New labelled tickets arrived")
    # The data owner opened it: the model owner is told; nobody is told of their own action.
    assert recipients("cycle.opened") == {"mo"}
    note = Notification.objects.get(event__action="cycle.opened")
    assert note.kind == "cycle_opened" and note.title == f"Retrain: cycle {cycle.number} of “Ticket routing” opened"
    assert "New labelled tickets arrived" in note.body and "by do" in note.body
    assert note.link == f"/projects/{team['project'].pk}/"
    # Play 3 of the new cycle is the data owner's own, and they opened the cycle: nobody to tell.
    assert recipients("play.ready") == set()


def test_the_monitor_alerts_its_audience_and_a_retrain_trigger_opens_a_cycle_for_the_owners(
        emails, packaged, django_capture_on_commit_callbacks):
    """A judged window with a drift alert (for the data owner) and a live-metric breach (for the model owner,
    and as a retrain trigger for the sign-off owners too), recorded by the monitor's own code; the trigger
    opens the next cycle by the system, which tells the model and data owners."""
    from apps.jobs.services import job_enqueue
    from apps.monitoring.models import Alert
    from apps.monitoring.monitor import window_record
    from apps.monitoring.services import deployment_create

    team = emails
    deployment = deployment_create(actor=team["mo"], package=packaged["package"])
    with transaction.atomic():
        job = job_enqueue("drift_check", deployment, {"after": 0, "upto": 1}, requested_by=None,
                          play=packaged["play6"])
    floor = "macro_f1 0.41 is under the floor 0.80"
    result = {"judged": True, "breached": ["text", "performance"], "decision": {
        "retrain": True, "retrain_reason": floor,
        "alerts": [{"signal": "text", "audience": "data_owner", "reason": "The window's texts separate (AUC 0.93)."},
                   {"signal": "performance", "audience": "model_owner", "reason": floor}]}}
    facts = {"first_at": job.created_at, "last_at": job.created_at, "last_prediction": 1, "rows": 200,
             "labelled": 200, "judged": True}
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            window = window_record(job=job, deployment=deployment, facts=facts, result=result)

    judged = Notification.objects.filter(event__action="monitoring.window_judged")
    assert {n.recipient.username: n.title for n in judged} == {
        "do": f"Alert on deployment {deployment.pk}: text",
        "mo": f"Retrain triggered on deployment {deployment.pk}",
        "so": f"Retrain triggered on deployment {deployment.pk}",
        "so2": f"Retrain triggered on deployment {deployment.pk}",
    }
    to_do = judged.get(recipient=team["do"])
    assert "AUC 0.93" in to_do.body and "under the floor" not in to_do.body
    assert to_do.link == f"/deployments/{deployment.pk}/monitoring/" and to_do.kind == "alert"
    assert "under the floor" in judged.get(recipient=team["so"]).body
    # The trigger opened cycle 2 by the system: model and data owners are told (so2 trained Play 4's
    # candidate as a second model owner in this flow); Play 3 is the data owner's.
    assert Alert.objects.get(window=window, retrain=True).cycle.number == 2
    assert recipients("cycle.opened") == {"mo", "do", "so2"}
    assert floor in Notification.objects.get(event__action="cycle.opened", recipient=team["mo"]).body
    assert recipients("play.ready") == {"do"}
    assert not Notification.objects.filter(recipient__username__in=["outsider", "admin"]).exists()
    # The data owner has no email address: nothing was mailed to them, yet all three are in their inbox.
    assert {m.to[0] for m in mail.outbox} == {"mo@example.com", "so@example.com", "so2@example.com"}
    assert Notification.objects.filter(recipient=team["do"], emailed_at__isnull=True).count() == 3


def test_email_goes_only_to_people_who_keep_it_on_and_turning_it_off_is_audited(
        emails, monkeypatch, django_capture_on_commit_callbacks):
    team = emails
    notification_preferences_set(actor=team["so2"], email=False)
    event = AuditEvent.objects.get(action="notifications.email_set")
    assert event.actor == team["so2"] and event.before == {"email": True} and event.after == {"email": False}
    with pytest.raises(ValidationFailed):
        notification_preferences_set(actor=team["so"], email="no")
    assert AuditEvent.objects.filter(action="notifications.email_set").count() == 1

    _submit_play1(team, monkeypatch, django_capture_on_commit_callbacks)
    assert recipients("play.submitted") == {"so", "so2"}  # in the inbox either way
    assert [m.to for m in mail.outbox] == [["so@example.com"]]
    assert mail.outbox[0].from_email == "Playbook <playbook@localhost>"


class _BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server unreachable")


def test_a_failing_mail_server_is_recorded_and_the_notification_stays(
        emails, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}._BrokenBackend"
    play = _submit_play1(emails, monkeypatch, django_capture_on_commit_callbacks)  # the caller saw no error
    assert Play.objects.get(pk=play.pk).status == "submitted"
    rows = Notification.objects.filter(event__action="play.submitted")
    assert rows.count() == 2
    for row in rows:
        assert row.emailed_at is None and "mail server unreachable" in row.email_error


def test_each_person_sees_and_marks_only_their_own_in_the_inbox_and_the_api(
        emails, monkeypatch, django_capture_on_commit_callbacks):
    team = emails
    play = _submit_play1(team, monkeypatch, django_capture_on_commit_callbacks)
    mine = Notification.objects.get(recipient=team["so"])
    theirs = Notification.objects.get(recipient=team["so2"])

    page = Client()
    assert page.login(username="so", password=PASSWORD)
    html = page.get("/inbox/").content.decode()
    assert html.count('class="notification unread"') == 1 and f"/plays/{play.pk}/" in html
    assert 'id="inbox-badge" class="badge" aria-label="1 unread">1</span>' in html
    assert page.post(f"/inbox/{theirs.pk}/read/").status_code == 404
    assert page.get(f"/inbox/{mine.pk}/read/").status_code == 405
    fragment = page.post(f"/inbox/{mine.pk}/read/", HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body and f'id="notification-{mine.pk}"' in body
    assert 'hx-swap-oob="true"' in body and "Mark read" not in body.split("inbox-badge")[0]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None
    # Marking read is not a state change of the project: no audit event for it.
    assert not AuditEvent.objects.filter(action__startswith="notification").exists()

    outsider = Client()
    assert outsider.login(username="outsider", password=PASSWORD)
    assert "Nothing here yet." in outsider.get("/inbox/").content.decode()
    assert Client().get("/inbox/").status_code == 302  # anonymous: sign in first

    api = APIClient()
    api.force_authenticate(team["so2"])
    listed = api.get("/api/notifications/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == theirs.pk
    assert listed["results"][0]["link"] == f"/plays/{play.pk}/" and listed["results"][0]["read_at"] is None
    assert api.post(f"/api/notifications/{mine.pk}/read/").status_code == 404
    assert api.get("/api/notifications/?unread=maybe").status_code == 400
    assert api.post(f"/api/notifications/{theirs.pk}/read/").json()["read_at"] is not None
    assert api.get("/api/notifications/?unread=1").json()["count"] == 0
    assert api.get("/api/notifications/").json()["count"] == 1
    api.force_authenticate(team["outsider"])
    assert api.get("/api/notifications/").json()["count"] == 0
    assert api.post(f"/api/notifications/{theirs.pk}/read/").status_code == 404
    assert APIClient().get("/api/notifications/").status_code == 401
    with pytest.raises(NotFound):
        notification_mark_read(actor=team["outsider"], notification=theirs)


def test_mark_all_read_and_the_email_switch_through_the_page_and_the_api(
        emails, monkeypatch, django_capture_on_commit_callbacks):
    team = emails
    member_add(actor=team["mo"], project=team["project"], username="mo", role="signoff_owner")
    _submit_play1(team, monkeypatch, django_capture_on_commit_callbacks)
    assert notifications_mark_all_read(actor=team["outsider"]) == 0
    page = Client()
    assert page.login(username="so", password=PASSWORD)
    assert page.post("/inbox/read-all/").status_code == 302
    assert not Notification.objects.filter(recipient=team["so"], read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=team["so2"], read_at__isnull=True).count() == 1
    assert page.post("/inbox/preferences/", {"email": "off"}).status_code == 302
    assert "Turn email on" in page.get("/inbox/").content.decode()
    assert page.post("/inbox/preferences/", {"email": "sometimes"}).status_code == 302
    assert AuditEvent.objects.filter(action="notifications.email_set").count() == 1

    api = APIClient()
    api.force_authenticate(team["so2"])
    assert api.post("/api/notifications/read-all/").json() == {"marked": 1}
    assert api.get("/api/notifications/preferences/").json() == {"email": True}
    assert api.post("/api/notifications/preferences/", {"email": False}, format="json").json() == {"email": False}
    assert api.post("/api/notifications/preferences/", {}, format="json").status_code == 400
    assert api.get("/api/notifications/preferences/").json() == {"email": False}


def test_a_promotion_and_a_rollback_tell_everyone_who_answers_for_the_model(
        emails, packaged, django_capture_on_commit_callbacks):
    from apps.monitoring.services import deployment_create, deployment_promote

    team = emails
    deployment = deployment_create(actor=team["mo"], package=packaged["package"])
    with django_capture_on_commit_callbacks(execute=True):
        deployment_promote(actor=team["so"], deployment=deployment, reason="Play 5 approved it.")
    promoted = Notification.objects.filter(event__action="deployment.promote")
    assert {n.recipient.username for n in promoted} == {"mo", "do", "so2"}  # not so, who promoted it
    note = promoted.get(recipient=team["do"])
    assert note.title == f"Deployment #{deployment.pk} is now in production" and note.kind == "production"
    assert "By so." in note.body and "Play 5 approved it." in note.body
    assert note.link == f"/deployments/{deployment.pk}/monitoring/"
    assert not Notification.objects.filter(event__action="deployment.deploy").exists()
