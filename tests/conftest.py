"""Shared fixtures: named personas built through the services, and a real Celery worker process.

Personas on one project (created by the model owner, as a stakeholder request would be):
  mo (model owner), do (data owner), so (sign-off owner), so2 (a second sign-off owner),
  outsider (a signed-in user with no role here), admin (staff, no role on the project).
"""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is slow on purpose (about 27 ms a password); tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Sign-in lockout (django-axes): off in tests, which sign in wrongly on purpose; ----------------------
# --- tests/unit/test_security.py turns it on where it is the subject. --------------------------------------
@pytest.fixture(autouse=True)
def _signin_lockout_off(settings):
    settings.AXES_ENABLED = False


@pytest.fixture
def make_user(db):
    from apps.accounts.services import user_create

    def make(username: str, *, staff: bool = False):
        return user_create(actor=None, username=username, password=PASSWORD, is_staff=staff)

    return make


@pytest.fixture
def team(make_user):
    """A project with one person per role, plus an outsider and an admin."""
    from apps.playbook.services import member_add, project_create

    people = {name: make_user(name) for name in ("mo", "do", "so", "so2", "outsider")}
    people["admin"] = make_user("admin", staff=True)
    project = project_create(actor=people["mo"], name="Ticket routing", request="Route support tickets to queues.")
    member_add(actor=people["mo"], project=project, username="do", role="data_owner")
    member_add(actor=people["mo"], project=project, username="so", role="signoff_owner")
    member_add(actor=people["mo"], project=project, username="so2", role="signoff_owner")
    people["project"] = project
    people["play1"] = project.cycles.get().plays.get(number=1)
    return people


SAMPLE_CSV = "text,label\n" + "".join(
    f"{text} {i},{label}\n"
    for i in range(12)
    for text, label in (
        ("I was charged twice for my plan", "billing"),
        ("cannot sign in with my password", "access"),
        ("the export button crashes the app", "bug"),
    )
) + "".join(  # the same words under another label: no baseline can score a perfect 1.0 on this sample
    f"{text} {i},{label}\n" for i in range(3) for text, label in (("I was charged twice for my plan", "bug"),)
)


@pytest.fixture
def sample_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    def make(content: str | bytes = SAMPLE_CSV, name: str = "sample.csv"):
        raw = content.encode() if isinstance(content, str) else content
        return SimpleUploadedFile(name, raw, content_type="text/csv")

    return make


def _database_url_for(db_settings: dict) -> str:
    user = db_settings.get("USER") or "postgres"
    password = f":{db_settings['PASSWORD']}" if db_settings.get("PASSWORD") else ""
    return (f"postgres://{user}{password}@{db_settings.get('HOST') or '127.0.0.1'}:"
            f"{db_settings.get('PORT') or 5432}/{db_settings['NAME']}")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process consuming both queues, pointed at the test database.

    Needs PostgreSQL and Redis (run the suite with `python manage.py testsuite`)."""
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("integration tests need PostgreSQL and Redis: run them with `python manage.py testsuite`")
    from config.celery import app

    app.control.purge()
    env = {**os.environ, "DATABASE_URL": _database_url_for(connection.settings_dict),
           "PLAYBOOK_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu", "-P", "solo",
             "-l", "INFO", "-n", name, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if b"ready." in log_path.read_bytes():
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the celery worker did not become ready:\n{log_path.read_text()[-3000:]}")
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def celery_beat_process(celery_worker_process, tmp_path):
    """A real `celery beat` process ticking the monitor every 2 seconds (the worker runs the ticks)."""
    env = {**os.environ, "PLAYBOOK_MONITOR_INTERVAL_SECONDS": "2", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "beat.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "INFO",
             "-s", str(tmp_path / "beat-schedule"), "--pidfile", str(tmp_path / "beat.pid")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"beat: Starting" not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"celery beat did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for_job(job_id: int, *, timeout: float = 180.0):
    """Poll the database until the job finishes; returns the job."""
    from apps.jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s (status {job.status})")


# --- The audit chain: verified before every flush and at the end of the session (issue 11) ---------------
# Transactional tests empty every table with one TRUNCATE, which PostgreSQL refuses on the audit tables
# (migration audit 0004) unless the session allows it: this test process's connections do, nothing else.
# Each transactional test verifies the chain before that flush wipes the evidence, and the session verifies
# what is left once more before the test database is dropped; either failure fails the run.

_chain_failures: list[str] = []


def _allow_audit_truncate(sender, connection, **kwargs):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET playbook.audit_allow_truncate = on")


def _connect_truncate_permission():
    from django.db.backends.signals import connection_created

    connection_created.connect(_allow_audit_truncate, dispatch_uid="tests-audit-allow-truncate")


_connect_truncate_permission()


def _chain_problem() -> str:
    from apps.audit.verification import verify_chain

    report = verify_chain()
    if report.ok:
        return ""
    where = f"at event #{report.broken_event_id}" if report.broken_event_id else "at its end"
    return f"the audit chain does not verify {where}: {report.problem}"


@pytest.fixture(autouse=True)
def _audit_chain_verified_before_flush(request):
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))) or (
        "transactional_db" in request.fixturenames or "live_server" in request.fixturenames)
    if not transactional:
        yield
        return
    # Set up the database first, so that its teardown (the flush) runs after the check below.
    request.getfixturevalue("_django_db_helper")
    yield
    problem = _chain_problem()
    if problem:
        _chain_failures.append(f"{request.node.nodeid}: {problem}")
        pytest.fail(f"before the flush, {problem}", pytrace=False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    with django_db_blocker.unblock():
        problem = _chain_problem()
    if problem:
        _chain_failures.append(f"at the end of the session, {problem}")


def pytest_sessionfinish(session, exitstatus):
    if _chain_failures:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep("=", "audit chain", red=True)
            for line in _chain_failures:
                reporter.write_line(line, red=True)
