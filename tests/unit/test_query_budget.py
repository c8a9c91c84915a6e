"""Query budgets: every page and API list makes the same number of database queries for a project with ten
times more jobs, metric points, datasets and audit events (no query per row).

Two projects are built once for the module (bench/load/populate.py): one at scale 1, one at scale 10, each with
its own people. Each route is requested as the same role on both, counting queries; the counts must be equal.
"""
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from bench.load.populate import populate
from tests.conftest import PASSWORD
from tests.unit.engine.conftest import build_tiny_bert

pytestmark = pytest.mark.django_db

SCALES = {"small": 1, "large": 10}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("query-budget-data")


@pytest.fixture(autouse=True)
def _private_data_dir(settings, data_dir):
    """The module's projects keep their files in one folder for every test (the pages look for them)."""
    settings.DATA_DIR = data_dir
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"


@pytest.fixture(scope="module")
def projects(django_db_setup, django_db_blocker, tmp_path_factory, data_dir):
    """Both projects, built once in a transaction that is rolled back after the module's tests."""
    model = build_tiny_bert(tmp_path_factory.mktemp("tiny-budget"), layers=2, seed=0)
    monkeypatch = pytest.MonkeyPatch()
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], AXES_ENABLED=False,
                             DATA_DIR=data_dir, PLAYBOOK_ZERO_SHOT_ENCODER="none")
    with django_db_blocker.unblock(), fast:
        outer = transaction.Atomic(DEFAULT_DB_ALIAS, savepoint=True, durable=False)
        outer._from_testcase = True  # the services' durable blocks nest in it as they do in a test case
        outer.__enter__()
        try:
            built = {}
            for name, scale in SCALES.items():
                built[name] = populate(scale=scale, prefix=f"{name}-", model_path=model, monkeypatch=monkeypatch,
                                       password=PASSWORD)
                monkeypatch.undo()
            small, large = built["small"].counts, built["large"].counts
            for key in small:  # the large project really is about ten times the small one where it grows
                assert large[key] > small[key], key
            print("\nscale 1:", small, "\nscale 10:", large)
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# Route id -> (who asks, the path for a populated project ``p``).
ROUTES = {
    "page my-work": ("mo", lambda p: "/"),
    "page projects": ("mo", lambda p: "/projects/"),
    "page project": ("mo", lambda p: f"/projects/{p.project.pk}/"),
    "page play 1": ("mo", lambda p: f"/plays/{p.plays[1].pk}/"),
    "page play 2": ("mo", lambda p: f"/plays/{p.plays[2].pk}/"),
    "page play 3": ("do", lambda p: f"/plays/{p.plays[3].pk}/"),
    "page play 4": ("mo", lambda p: f"/plays/{p.plays[4].pk}/"),
    "page play 5": ("so", lambda p: f"/plays/{p.plays[5].pk}/"),
    "page play 6": ("mo", lambda p: f"/plays/{p.plays[6].pk}/"),
    "partial job progress": ("mo", lambda p: f"/jobs/{p.progress_job.pk}/progress/"),
    "page inbox": ("do", lambda p: "/inbox/"),
    "page audit trail": ("admin", lambda p: f"/audit/?project={p.project.pk}"),
    "page deployment monitoring": ("mo", lambda p: f"/deployments/{p.deployment.pk}/monitoring/"),
    "api projects": ("mo", lambda p: "/api/projects/"),
    "api project": ("mo", lambda p: f"/api/projects/{p.project.pk}/"),
    "api project plays": ("mo", lambda p: f"/api/projects/{p.project.pk}/plays/"),
    "api project datasets": ("do", lambda p: f"/api/projects/{p.project.pk}/datasets/"),
    "api project candidates": ("mo", lambda p: f"/api/projects/{p.project.pk}/candidates/"),
    "api dataset splits": ("do", lambda p: f"/api/datasets/{p.dataset.pk}/splits/"),
    "api play 4": ("mo", lambda p: f"/api/plays/{p.plays[4].pk}/"),
    "api job": ("mo", lambda p: f"/api/jobs/{p.progress_job.pk}/"),
    "api deployment windows": ("mo", lambda p: f"/api/deployments/{p.deployment.pk}/windows/"),
    "api alerts": ("do", lambda p: "/api/alerts/"),
    "api notifications": ("do", lambda p: "/api/notifications/"),
    "api audit": ("admin", lambda p: f"/api/audit/?project={p.project.pk}"),
    "api tokens": ("mo", lambda p: "/api/tokens/"),
}


def _count(populated, route: str) -> tuple[int, int]:
    who, path_of = ROUTES[route]
    path = path_of(populated)
    client = Client()
    client.force_login(populated.people[who])
    client.get(path)  # a first request warms what is cached per process (sessions, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, HTTP_ACCEPT="application/json" if path.startswith("/api/") else "text/html")
    assert response.status_code == 200, (route, path, response.status_code)
    return len(queries), len(response.content)


@pytest.mark.parametrize("route", list(ROUTES))
def test_the_query_count_does_not_grow_with_the_data(projects, route):
    small, small_bytes = _count(projects["small"], route)
    large, large_bytes = _count(projects["large"], route)
    print(f"{route}: {small} queries at scale 1, {large} at scale 10 ({small_bytes} → {large_bytes} bytes)")
    assert large == small, f"{route}: {small} queries at scale 1 but {large} at scale 10"

