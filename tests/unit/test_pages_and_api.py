"""The audit page's filters and CSV export, the API schema, the stale-heartbeat sweep, the demo seed."""
import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.jobs.services import job_claim, jobs_fail_stale
from apps.playbook.services import play_job_start as job_start
from tests.conftest import PASSWORD
from tests.helpers import measure_baseline

pytestmark = pytest.mark.django_db


def signed_in(username):
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_audit_page_filters_by_project_actor_action_and_dates(team, make_user):
    other_owner = make_user("elsewhere")
    from apps.playbook.services import project_create

    other = project_create(actor=other_owner, name="Other project", request="Something else.")
    admin = signed_in("admin")
    page = admin.get("/audit/", {"project": team["project"].pk}).content.decode()
    assert "Ticket routing" in page and "Other project" in page  # the filter lists every project
    rows = AuditEvent.objects.filter(project=team["project"]).count()
    assert f"{rows} event(s)" in page
    by_actor = admin.get("/audit/", {"actor": "elsewhere"}).content.decode()
    assert f"{AuditEvent.objects.filter(actor_label='elsewhere').count()} event(s)" in by_actor
    by_action = admin.get("/audit/", {"action": "member.role_granted", "project": team["project"].pk})
    assert "4 event(s)" in by_action.content.decode()  # mo on creation, then do, so and so2
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert "0 event(s)" in admin.get("/audit/", {"since": tomorrow}).content.decode()
    bad = admin.get("/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and "Give the “from” date as an ISO date like 2026-12-03" in bad.content.decode()
    assert other.pk


def test_audit_csv_export_has_every_filtered_event_with_its_hash(team):
    response = signed_in("admin").get("/audit/", {"project": team["project"].pk, "format": "csv"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = AuditEvent.objects.filter(project=team["project"]).order_by("-id")
    assert [int(r["id"]) for r in rows] == [e.pk for e in expected]
    assert rows[0]["hash"] == expected[0].hash and rows[-1]["action"] == "project.created"


def test_api_audit_is_paginated_and_filtered(team):
    from apps.accounts.services import token_issue

    client = Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=team['admin']).key}")
    body = client.get("/api/audit/", {"project": team["project"].pk, "limit": 2}).json()
    assert body["count"] == AuditEvent.objects.filter(project=team["project"]).count()
    assert len(body["results"]) == 2 and {"hash", "prev_hash", "action", "actor_label"} <= set(body["results"][0])


def test_openapi_schema_lists_the_routes_automation_depends_on(team):
    schema = signed_in("mo").get("/api/schema/", {"format": "json"}).json()
    for route in ["/api/auth/token/", "/api/projects/", "/api/projects/{project_id}/",
                  "/api/projects/{project_id}/members/", "/api/projects/{project_id}/plays/",
                  "/api/projects/{project_id}/datasets/", "/api/plays/{play_id}/", "/api/plays/{play_id}/submit/",
                  "/api/plays/{play_id}/decision/", "/api/jobs/", "/api/jobs/{job_id}/", "/api/audit/"]:
        assert route in schema["paths"], route
    assert signed_in("mo").get("/api/docs/").status_code == 200


def test_token_sign_in_is_audited_and_bad_credentials_refused(team):
    client = Client()
    refused = client.post("/api/auth/token/", {"username": "mo", "password": "nope"}, content_type="application/json")
    assert refused.status_code == 400 and "Unable to sign in" in refused.json()["error"]
    ok = client.post("/api/auth/token/", {"username": "mo", "password": PASSWORD}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["token"].startswith("pbt_")
    assert AuditEvent.objects.filter(action="auth.sign_in_failed").exists()
    assert AuditEvent.objects.filter(action="auth.token_issued", actor=team["mo"]).exists()


def test_a_running_job_whose_worker_stopped_beating_is_failed_and_the_play_untouched(team, sample_upload):
    play = measure_baseline(team, sample_upload)
    job = job_start(actor=team["mo"], play=play, kind="baseline", params={})
    job_claim(job_id=job.pk, device="cpu")
    evidence = dict(play.evidence)
    assert jobs_fail_stale() == []  # it just beat
    later = timezone.now() + timedelta(minutes=10)
    assert jobs_fail_stale(now=later) == [job.pk]
    job.refresh_from_db()
    play.refresh_from_db()
    assert job.status == Job.Status.FAILED and "heartbeat" in job.error
    assert play.status == "in_progress" and play.evidence == evidence


def test_the_demo_seed_creates_users_project_and_data_once(settings):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    from django.contrib.auth import get_user_model

    from apps.playbook.models import Project

    users = set(get_user_model().objects.values_list("username", flat=True))
    assert {"admin", "model.owner", "data.owner", "signoff.owner"} <= users
    project = Project.objects.get(name="Support ticket routing")
    dataset = project.datasets.get()
    assert 1500 <= dataset.rows <= 2500 and 6 <= len(dataset.labels) <= 8
    assert (settings.DATA_DIR / "demo" / "production_sample.csv").exists()
    assert Client().login(username="signoff.owner", password="playbook-demo")


def test_no_template_comment_spans_lines():
    """Django's {# #} comment ends at the line's end: one spread over two lines is sent to the browser as text
    (a `<style>` named in it then opens a real style element, which the Content-Security-Policy blocks)."""
    from django.conf import settings

    root = settings.BASE_DIR / "templates"
    open_comments = [f"{path.relative_to(root)}:{number}"
                     for path in root.rglob("*.html")
                     for number, line in enumerate(path.read_text().splitlines(), 1)
                     if "{#" in line and "#}" not in line.split("{#", 1)[1]]
    assert open_comments == [], "use {% comment %} for comments over several lines: " + ", ".join(open_comments)


def test_pages_name_the_site_icon_and_it_is_served(client):
    from django.contrib.staticfiles import finders

    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = finders.find("favicon.svg")
    assert icon and open(icon).read().startswith("<svg")
