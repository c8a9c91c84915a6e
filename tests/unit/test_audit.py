"""The audit trail: one event per change, a hash chain that verifies, and tamper evidence."""
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client

from apps.audit.models import AuditEvent
from apps.playbook.services import gate_decide, play_update_deliverable
from tests.conftest import PASSWORD
from tests.helpers import GOOD_DELIVERABLE, submitted_play1

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def new_actions(since_id):
    return list(AuditEvent.objects.filter(pk__gt=since_id).order_by("id").values_list("action", flat=True))


def last_id():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_each_change_writes_exactly_one_event_in_the_chain(team, sample_upload):
    mark = last_id()
    play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable=GOOD_DELIVERABLE)
    assert new_actions(mark) == ["play.started", "play.deliverable_updated"]
    mark = last_id()
    play_update_deliverable(actor=team["mo"], play=team["play1"], deliverable={"min_margin": 0.03})
    event = AuditEvent.objects.get(pk__gt=mark)
    assert (event.action, event.actor, event.before, event.after) == (
        "play.deliverable_updated", team["mo"], {"min_margin": 0.02}, {"min_margin": 0.03})
    assert event.project == team["project"] and event.object_type == "play"
    play = submitted_play1(team, sample_upload)
    mark = last_id()
    gate_decide(actor=team["so"], play=play, decision="approve")
    assert new_actions(mark) == ["gate.approve", "play.ready"]  # the decision, and Play 2 unlocking
    call_command("verify_audit")


def test_worker_events_name_no_user_and_carry_the_job_request_id(team, sample_upload):
    submitted_play1(team, sample_upload)
    started = AuditEvent.objects.get(action="job.started")
    assert started.actor is None and started.actor_label == "worker"
    assert started.request_id.startswith("job-")


def test_sign_in_sign_out_and_failed_sign_in_are_audited(team):
    client = Client()
    assert not client.login(username="mo", password="wrong")
    assert client.login(username="mo", password=PASSWORD)
    client.post("/accounts/logout/")
    actions = list(AuditEvent.objects.filter(action__startswith="auth.").values_list("action", "actor_label"))
    assert actions == [("auth.sign_in_failed", "anonymous:mo"), ("auth.signed_in", "mo"), ("auth.signed_out", "mo")]


def test_requests_stamp_their_request_id_on_events(team):
    client = Client()
    client.login(username="mo", password=PASSWORD)
    response = client.post(f"/plays/{team['play1'].pk}/", {"min_margin": "0.05"}, HTTP_X_REQUEST_ID="req-abcdef123")
    assert response.status_code == 302 and response["X-Request-ID"] == "req-abcdef123"
    assert AuditEvent.objects.filter(request_id="req-abcdef123", action="play.deliverable_updated").exists()


def test_verify_audit_names_a_forged_event(team):
    """A row inserted behind the services' back (INSERT is all the trigger allows) breaks the chain."""
    call_command("verify_audit")
    last = AuditEvent.objects.order_by("-id").first()
    forged = AuditEvent(event_time=last.event_time, actor_label="intruder", action="gate.approve",
                        prev_hash=last.hash, hash="0" * 64)
    forged.save(force_insert=True)
    with pytest.raises(CommandError, match=rf"event #{forged.pk}"):
        call_command("verify_audit")


def test_postgresql_refuses_update_and_delete_on_the_audit_table(team):
    if connection.vendor != "postgresql":
        pytest.fail("this check needs PostgreSQL: run the suite with `python manage.py testsuite`")
    event = AuditEvent.objects.order_by("id").first()
    for sql in ("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", "DELETE FROM audit_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [event.pk])
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="x")
    assert AuditEvent.objects.get(pk=event.pk).action == event.action


SCRIPT = """
import django
django.setup()
from apps.accounts.services import user_create
from apps.playbook.services import project_create, play_update_deliverable
u = user_create(actor=None, username="owner", password="pw-123-long")
p = project_create(actor=u, name="P", request="R")
play_update_deliverable(actor=u, play=p.cycles.get().plays.get(number=1), deliverable={"min_margin": 0.1})
"""


def test_verify_audit_fails_after_raw_sql_alteration_on_sqlite(tmp_path):
    """SQLite has no trigger: there the chain is what reveals an edit made with raw SQL."""
    db = tmp_path / "audit.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PLAYBOOK_DATA_DIR": str(tmp_path), "DEBUG": "true",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("CELERY_BROKER_URL", None)
    run = lambda *args: subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run("manage.py", "migrate", "-v0").returncode == 0
    made = run("-c", SCRIPT)
    assert made.returncode == 0, made.stderr
    ok = run("manage.py", "verify_audit")
    assert ok.returncode == 0 and "intact" in ok.stdout
    with sqlite3.connect(db) as raw:
        target = raw.execute("SELECT id FROM audit_auditevent WHERE action = 'play.deliverable_updated'").fetchone()[0]
        raw.execute("UPDATE audit_auditevent SET after = '{\"min_margin\": 0.9}' WHERE id = ?", (target,))
    broken = run("manage.py", "verify_audit")
    assert broken.returncode != 0
    assert f"event #{target}" in broken.stderr and "altered" in broken.stderr
