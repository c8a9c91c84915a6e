"""schemathesis against the project's own OpenAPI schema, through the Django WSGI app, as each persona.

For every operation, a bounded number of generated requests: schema-valid ones (positive) and ones that
break the schema (negative), with path ids drawn either at random or from a real project, play and
dataset. Every response must be no 5xx, a documented status code and content type, a body that matches
the documented schema, and, for a refusal, `{"error": ...}`. A schema-valid request may be refused for
who is asking or for the state things are in, but never by the input validation that the schema claims
to describe (a 400 carrying per-field errors).
"""
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

pytestmark = pytest.mark.django_db

# Examples per operation: members reach the most code; the two who are refused nearly everything get fewer.
EXAMPLES_PER_OPERATION = {"mo": 3, "do": 3, "so": 3, "admin": 3, "outsider": 2, "anonymous": 2}
PERSONAS = ["mo", "do", "so", "outsider", "admin", "anonymous"]
CHECKS = [openapi_checks.status_code_conformance, openapi_checks.content_type_conformance,
          openapi_checks.response_schema_conformance]


def _load_schema():
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    schema.app = get_wsgi_application()
    return schema


SCHEMA = _load_schema()
OPERATIONS = sorted((result.ok() for result in SCHEMA.get_all_operations()), key=lambda op: op.label)


@pytest.fixture
def wsgi_in_test_transaction():
    """The WSGI handler closes the database connection around each request; in a test that would close the
    test's own transaction (Django's test client detaches the same receivers)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def known_ids(team, sample_upload):
    from apps.datasets.services import dataset_upload

    from apps.datasets.curation import dataset_seal
    from apps.notifications.models import Notification

    dataset = dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload())
    job = dataset_seal(actor=team["do"], dataset=dataset, train=0.7, val=0.15, test=0.15, seed=0)
    ids = {"project_id": team["project"].pk, "play_id": team["play1"].pk, "dataset_id": dataset.pk,
           "job_id": job.pk}
    if notification := Notification.objects.order_by("pk").first():
        ids["notification_id"] = notification.pk
    return ids


def _auth_headers(team, persona: str) -> dict:
    if persona == "anonymous":
        return {}
    from apps.accounts.services import token_issue

    return {"Authorization": f"Token {token_issue(user=team[persona]).key}"}


def _problems(case, response, headers, mode) -> list[str]:
    found = []
    if response.status_code >= 500:
        found.append(f"server error {response.status_code}")
    for check in CHECKS:
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except BaseExceptionGroup as group:
            found += [f"{check.__name__}: {exc}" for exc in group.exceptions]
        except AssertionError as exc:
            found.append(f"{check.__name__}: {exc}")
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
            found.append(f"a {response.status_code} without an error message: {response.text[:200]!r}")
        elif mode.is_positive and response.status_code == 400 and "fields" in body:
            found.append(f"a schema-valid request refused by input validation: {body['error'][:200]}")
    return found


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_operation_answers_as_documented(persona, team, known_ids, settings, wsgi_in_test_transaction):
    settings.ALLOWED_HOSTS = ["localhost"]
    headers = _auth_headers(team, persona)
    statuses, failures, kinds = Counter(), [], Counter()

    for operation in OPERATIONS:
        real_ids = {name: value for name, value in known_ids.items() if "{" + name + "}" in operation.path}

        @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION[persona], deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def exercise(data):
            mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
            path_parameters = real_ids if real_ids and data.draw(st.booleans(), label="real ids") else None
            case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            response = case.call(headers=headers)
            statuses[(mode.value, response.status_code)] += 1
            for problem in _problems(case, response, headers, mode):
                kinds[problem.split(":")[0][:40]] += 1
                failures.append(f"{operation.label} [{mode.value}] -> {response.status_code}: {problem[:400]}"
                                f"\n    {case.method} {case.formatted_path!r} body={case.body!r:.200} "
                                f"query={case.query!r:.200}")

        exercise()

    sent = sum(statuses.values())
    print(f"\n{persona}: {sent} requests over {len(OPERATIONS)} operations "
          f"({sum(n for (m, _), n in statuses.items() if m == 'positive')} valid, "
          f"{sum(n for (m, _), n in statuses.items() if m == 'negative')} invalid); "
          f"statuses {dict(sorted(Counter(code for (_, code) in statuses.elements()).items()))}; "
          f"problems {dict(kinds)}")
    assert sent >= len(OPERATIONS) * 2
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures[:200])


def test_an_unmatched_api_path_gets_the_json_error_shape(team):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=_auth_headers(team, "mo")["Authorization"])
    for method, path in [("get", "/api/projects/not-a-number/"), ("post", "/api/plays/1/nowhere/"),
                         ("get", "/api/projects/%C2%B1%0A/")]:
        response = getattr(client, method)(path)
        assert response.status_code == 404 and response.json() == {"error": "No API route matches this path."}
    moved = client.get("/api/projects", {"limit": 1})
    assert moved.status_code == 301 and moved["Location"] == "/api/projects/?limit=1"


def test_nul_characters_in_query_filters_are_refused_not_crashed(team):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=_auth_headers(team, "admin")["Authorization"])
    for params in [{"actor": "a\x00b"}, {"action": "\x00"}, {"project": "\x00"}]:
        response = client.get("/api/audit/", params)
        assert response.status_code == 400, (params, response.status_code)
        assert "error" in response.json()
