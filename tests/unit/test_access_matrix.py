"""Every page and API route × every persona: each role, an outsider, an admin and an anonymous user.

An outsider gets the same 404 as for something that does not exist, and the body names nothing of the
project; a member without the role gets 403; an anonymous user is sent to sign in (pages) or gets 401 (API).
Each row runs on a fresh project, so a refused write can be checked to have changed nothing.
"""
import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.playbook.services import play_job_start as job_start
from tests.conftest import PASSWORD, SAMPLE_CSV
from tests.helpers import GOOD_DELIVERABLE, measure_baseline, submitted_play1

pytestmark = pytest.mark.django_db

PERSONAS = ["mo", "do", "so", "outsider", "admin", "anonymous"]


def client_for(team, persona, api: bool):
    client = Client()
    if persona == "anonymous":
        return client
    if api:
        from apps.accounts.services import token_issue

        token = token_issue(user=team[persona])
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    else:
        assert client.login(username=persona, password=PASSWORD)
    return client


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("s.csv", SAMPLE_CSV.encode(), "text/csv")


# Each route: (name, state builder, request, {persona: expected status}).
# State builders return the ids the request needs.
def _fresh(team, upload):
    return {"project": team["project"].pk, "play": team["play1"].pk}


def _measured(team, upload):
    play = measure_baseline(team, upload)
    return {"project": team["project"].pk, "play": play.pk, "job": play.jobs.first().pk}


def _submitted(team, upload):
    play = submitted_play1(team, upload)
    return {"project": team["project"].pk, "play": play.pk, "job": play.jobs.first().pk}


def _with_queued_job(team, upload):
    play = measure_baseline(team, upload)
    job = job_start(actor=team["mo"], play=play, kind="baseline", params={})
    return {"project": team["project"].pk, "play": play.pk, "job": job.pk}


def _with_audit(team, upload):
    """A labelled dataset uploaded by the model owner, and a label audit the data owner handed to `so`."""
    from apps.datasets.curation import label_audit_start
    from apps.datasets.services import dataset_upload

    dataset = dataset_upload(actor=team["mo"], project=team["project"], upload=upload())
    audit = label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    return {"project": team["project"].pk, "play": team["play1"].pk, "dataset": dataset.pk, "audit": audit.pk}


def _sealed(team, upload):
    from tests.helpers import seal_now
    from apps.datasets.services import dataset_upload

    dataset = dataset_upload(actor=team["mo"], project=team["project"], upload=upload())
    seal_now(team["do"], dataset)
    return {"project": team["project"].pk, "play": team["play1"].pk, "dataset": dataset.pk}


MEMBERS_READ = {"mo": 200, "do": 200, "so": 200, "admin": 200, "outsider": 404}
API_ANON = 401
PAGE_ANON = 302

API_ROUTES = [
    ("project detail", _fresh, ("get", "/api/projects/{project}/", None), MEMBERS_READ),
    ("play list", _fresh, ("get", "/api/projects/{project}/plays/", None), MEMBERS_READ),
    ("play detail", _fresh, ("get", "/api/plays/{play}/", None), MEMBERS_READ),
    ("project list", _fresh, ("get", "/api/projects/", None), {p: 200 for p in MEMBERS_READ}),
    ("add member", _fresh, ("post", "/api/projects/{project}/members/", {"username": "outsider", "role": "data_owner"}),
     {"mo": 201, "admin": 201, "do": 403, "so": 403, "outsider": 404}),
    ("solo mode", _fresh, ("post", "/api/projects/{project}/solo/", {"solo_mode": True}),
     {"admin": 200, "mo": 403, "do": 403, "so": 403, "outsider": 404}),
    ("upload", _fresh, ("upload", "/api/projects/{project}/datasets/", None),
     {"mo": 201, "do": 201, "so": 403, "admin": 403, "outsider": 404}),
    ("edit deliverable", _fresh, ("patch", "/api/plays/{play}/", {"deliverable": GOOD_DELIVERABLE}),
     {"mo": 200, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("start job", _measured, ("post", "/api/jobs/", {"play": "{play}", "kind": "baseline", "params": {}}),
     {"mo": 201, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("job detail", _measured, ("get", "/api/jobs/{job}/", None), MEMBERS_READ),
    ("cancel job", _with_queued_job, ("post", "/api/jobs/{job}/cancel/", {}),
     {"mo": 200, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("submit", _measured, ("post", "/api/plays/{play}/submit/", {}),
     {"mo": 200, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("decide", _submitted, ("post", "/api/plays/{play}/decision/", {"decision": "approve"}),
     {"so": 201, "mo": 403, "do": 403, "admin": 403, "outsider": 404}),
    ("register candidate", _fresh, ("post", "/api/projects/{project}/candidates/", {
        "name": "c", "source": "some-org/some-encoder", "licence": "MIT", "domain_rating": 3,
        "latency_budget_ms": 20, "memory_budget_mb": 500}),
     {"mo": 201, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("candidate list", _fresh, ("get", "/api/projects/{project}/candidates/", None), MEMBERS_READ),
    ("close project", _fresh, ("post", "/api/projects/{project}/close/", {"outcome": "abandoned", "reason": "Withdrawn"}),
     {"mo": 200, "admin": 200, "do": 403, "so": 403, "outsider": 404}),
    # Allowed roles get 409 here: nothing has been trained to retrain from yet.
    ("retrain", _fresh, ("post", "/api/projects/{project}/retrain/", {"reason": "New data"}),
     {"mo": 409, "do": 409, "so": 403, "admin": 403, "outsider": 404}),
    ("audit", _fresh, ("get", "/api/audit/?project={project}", None),
     {"admin": 200, "mo": 403, "do": 403, "so": 403, "outsider": 403}),
    ("production sample", _sealed, ("upload", "/api/datasets/{dataset}/production-sample/", None),
     {"do": 202, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("seal splits", _sealed, ("post", "/api/datasets/{dataset}/seal/", {"train": 0.7, "val": 0.15, "test": 0.15}),
     {"do": 202, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("sealed splits", _sealed, ("get", "/api/datasets/{dataset}/splits/", None), MEMBERS_READ),
    ("cancel label audit", _with_audit, ("post", "/api/audits/{audit}/cancel/", {}),
     {"do": 200, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("reassign label audit", _with_audit, ("post", "/api/audits/{audit}/reassign/", {"auditor": "so2"}),
     {"do": 200, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
]

PAGE_ROUTES = [
    ("my work", _fresh, ("get", "/", None), {p: 200 for p in MEMBERS_READ}),
    ("projects", _fresh, ("get", "/projects/", None), {p: 200 for p in MEMBERS_READ}),
    ("project page", _fresh, ("get", "/projects/{project}/", None), MEMBERS_READ),
    ("play page", _fresh, ("get", "/plays/{play}/", None), MEMBERS_READ),
    ("job progress", _measured, ("get", "/jobs/{job}/progress/", None), MEMBERS_READ),
    ("audit page", _fresh, ("get", "/audit/", None), {"admin": 200, "mo": 403, "do": 403, "so": 403, "outsider": 403}),
    ("add member", _fresh, ("post", "/projects/{project}/members/", {"username": "outsider", "role": "data_owner"}),
     {"mo": 302, "admin": 302, "do": 403, "so": 403, "outsider": 404}),
    ("solo mode", _fresh, ("post", "/projects/{project}/solo/", {"solo_mode": "on"}),
     {"admin": 302, "mo": 403, "do": 403, "so": 403, "outsider": 404}),
    ("save deliverable", _fresh, ("post", "/plays/{play}/", {"problem_statement": GOOD_DELIVERABLE["problem_statement"]}),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    # On a play's page the upload is part of the play's workspace: its owner's (the API lets data owners too).
    ("upload", _fresh, ("upload", "/plays/{play}/datasets/", None),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("start job", _measured, ("post", "/plays/{play}/jobs/", {"kind": "baseline"}),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("cancel job", _with_queued_job, ("post", "/jobs/{job}/cancel/", {}),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("submit", _measured, ("post", "/plays/{play}/submit/", {}),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("decide", _submitted, ("post", "/plays/{play}/decide/", {"decision": "approve"}),
     {"so": 302, "mo": 403, "do": 403, "admin": 403, "outsider": 404}),
    ("close project", _fresh, ("post", "/projects/{project}/close/", {"outcome": "abandoned", "reason": "Withdrawn"}),
     {"mo": 302, "admin": 302, "do": 403, "so": 403, "outsider": 404}),
    ("retrain", _fresh, ("post", "/projects/{project}/retrain/", {"reason": "New data"}),
     {"mo": 302, "do": 302, "so": 403, "admin": 403, "outsider": 404}),
    ("register candidate", _fresh, ("post", "/plays/{play}/candidates/", {
        "name": "c", "source": "some-org/some-encoder", "licence": "MIT", "domain_rating": "3",
        "latency_budget_ms": "20", "memory_budget_mb": "500"}),
     {"mo": 302, "do": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("cancel label audit", _with_audit, ("post", "/audits/{audit}/cancel/", {}),
     {"do": 302, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
    ("reassign label audit", _with_audit, ("post", "/audits/{audit}/reassign/", {"auditor": "so2"}),
     {"do": 302, "mo": 403, "so": 403, "admin": 403, "outsider": 404}),
]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: (int(_fill(v, ids)) if isinstance(v, str) and v.startswith("{") else _fill(v, ids))
                for k, v in value.items()}
    return value


def _call(client, method, url, body, api):
    if method == "upload":
        return client.post(url, {"file": _csv()})
    if method == "get":
        return client.get(url)
    if api:
        return getattr(client, method)(url, body, content_type="application/json")
    return client.post(url, body)


def _cases(routes, api):
    for name, build, request, expected in routes:
        for persona in PERSONAS:
            status = expected.get(persona, API_ANON if api else PAGE_ANON) if persona != "anonymous" else (
                API_ANON if api else PAGE_ANON)
            yield pytest.param(build, request, persona, status, api, id=f"{'api' if api else 'page'}:{name}:{persona}")


@pytest.mark.parametrize("build,request_spec,persona,expected,api",
                         list(_cases(API_ROUTES, True)) + list(_cases(PAGE_ROUTES, False)))
def test_route_answers_each_persona(team, sample_upload, build, request_spec, persona, expected, api):
    ids = build(team, sample_upload)
    client = client_for(team, persona, api)
    method, url, body = request_spec
    events_before = AuditEvent.objects.exclude(action__startswith="auth.").count()
    response = _call(client, method, _fill(url, ids), _fill(body, ids), api)
    assert response.status_code == expected, response.content[:500]
    if expected in (401, 403, 404):
        # Refused: nothing changed, and nothing of the project leaks to an outsider.
        assert AuditEvent.objects.exclude(action__startswith="auth.").count() == events_before
        if persona == "outsider":
            assert team["project"].name.encode() not in response.content
    if not api and expected == 302 and persona == "anonymous":
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("url", ["/api/plays/{play}/submit/", "/api/plays/{play}/decision/", "/api/jobs/"])
def test_get_on_a_post_only_api_route_is_405(team, url):
    client = client_for(team, "mo", api=True)
    assert client.get(url.format(play=team["play1"].pk)).status_code == 405


@pytest.mark.parametrize("url", ["/plays/{play}/submit/", "/plays/{play}/decide/", "/projects/{project}/members/"])
def test_get_on_a_post_only_page_route_is_405(team, url):
    client = client_for(team, "mo", api=False)
    assert client.get(url.format(play=team["play1"].pk, project=team["project"].pk)).status_code == 405


def test_pages_show_only_the_buttons_a_user_may_use(team, sample_upload):
    play = submitted_play1(team, sample_upload)
    page = f"/plays/{play.pk}/"
    as_signoff = client_for(team, "so", api=False).get(page).content.decode()
    as_owner = client_for(team, "mo", api=False).get(page).content.decode()
    as_data = client_for(team, "do", api=False).get(page).content.decode()
    assert 'value="approve"' in as_signoff and 'value="reject"' in as_signoff
    assert 'value="ship_baseline"' not in as_signoff  # the baseline falls short of the target here
    for other in (as_owner, as_data):
        assert 'value="approve"' not in other and 'value="reject"' not in other
    assert "Submit for sign-off" not in as_signoff
    project_page = client_for(team, "do", api=False).get(f"/projects/{team['project'].pk}/").content.decode()
    assert "Add member" not in project_page and "Solo mode" not in project_page
    assert "Add member" in client_for(team, "mo", api=False).get(f"/projects/{team['project'].pk}/").content.decode()


def test_polled_fragment_is_the_partial_and_stops_polling_when_finished(team, sample_upload):
    ids = _measured(team, sample_upload)
    client = client_for(team, "mo", api=False)
    response = client.get(f"/jobs/{ids['job']}/progress/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # htmx stops polling on 286
    assert b"<html" not in response.content and b"Succeeded" in response.content
    assert "job-finished" in response["HX-Trigger"]
    gate = client.get(f"/plays/{ids['play']}/?partial=gate", HTTP_HX_REQUEST="true")
    assert gate.status_code == 200 and b"<html" not in gate.content and b'id="gate-panel"' in gate.content
