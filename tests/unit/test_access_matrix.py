"""Every route, every persona, its effect.

The route list comes from Django's URL resolver and is checked against the OpenAPI schema: a route (pattern ×
HTTP method) without a row below fails the suite, naming it. Each row is called by every persona:

- allowed: the status, the exact ordered list of audit actions the call adds, the tables it changes, whether
  it stores a file, the redirect's Location (pages) with no error message flashed, and the changed fields;
- refused: the status (an outsider gets 404 and no word of the project, a member without the role 403, an
  anonymous caller the sign-in redirect on pages and 401 on the API) and nothing written at all: every row of
  every table of our apps hashes the same, no file appears under the data folder and no audit event is added.

The state (two projects, one of them carried to a deployed Play 6 package) is built once for the module
through the services, inside a transaction that is rolled back when the module ends; each call runs in the
test's own savepoint, so every persona meets the same state.
"""
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from apps.audit.models import AuditEvent
from tests.conftest import PASSWORD, SAMPLE_CSV

pytestmark = pytest.mark.django_db

PERSONAS = ["mo", "do", "so", "duo", "outsider", "anonymous", "admin", "client"]
PERSONA_ROLES = {  # on both projects
    "mo": ["model_owner"], "do": ["data_owner"], "so": ["signoff_owner"], "duo": ["model_owner", "data_owner"],
}

# Routes outside the matrix, each with its reason.
EXCLUDED = {
    r"^admin/": "Django admin: staff-only, its own permission system (audited by the admin hooks' tests)",
    r"^accounts/login/$": "sign-in page: open to everyone by design",
    r"^accounts/logout/$": "sign-out: ends the caller's own session only",
    r"^api/schema/$": "the OpenAPI document itself (public description, no data)",
    r"^api/docs/$": "Swagger UI page for the schema (static, no data)",
    r"^static/|^media/": "static files",
    r"^\^api/": "the catch-all that answers unmatched /api/ paths with the JSON 404 (fuzzed in test_fuzz_api)",
}

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


# --- the route list ---------------------------------------------------------------------------------------


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def resolver_routes() -> dict[str, Callable]:
    """Every route Django resolves, as its pattern string (`api/plays/<int:play_id>/submit/`), minus the
    excluded ones."""
    routes = {}
    for pattern, callback in _walk(get_resolver().url_patterns):
        if not any(re.search(rule, pattern) for rule in EXCLUDED):
            routes[pattern] = callback
    return routes


def _probe_url(pattern: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "json" if m.group(1) == "str" else "999999", pattern)


def route_methods(pattern: str, callback, client: Client) -> set[str]:
    """The HTTP methods a route answers. An API view: the handlers its class defines. A page: what its
    `require_*` decorator allows (a PUT answers 405 with an Allow header); a page view with no such decorator
    takes GET and POST."""
    view_class = getattr(callback, "cls", None)
    if view_class is not None:
        return {m for m in HTTP_METHODS if hasattr(view_class, m.lower())}
    response = client.generic("PUT", _probe_url(pattern))
    if response.status_code == 405:
        return {m.strip() for m in response["Allow"].split(",")} & set(HTTP_METHODS)
    return {"GET", "POST"}


def schema_operations() -> set[tuple[str, str]]:
    """(METHOD, path) for every operation in the OpenAPI schema, paths written as the resolver writes them."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations
            if method.upper() in HTTP_METHODS}


def _as_schema_path(pattern: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)


# --- personas and their credentials -----------------------------------------------------------------------


def api_token(user) -> str:
    """The one place that turns a user into an API credential (the `Authorization` header's value)."""
    from apps.accounts.services import token_issue

    return f"Token {token_issue(user=user).key}"


def client_for(world, persona: str, api: bool) -> Client:
    client = Client()
    if persona == "anonymous":
        return client
    if persona == "client":  # a deployment-scoped client token: no person behind it
        client.defaults["HTTP_AUTHORIZATION"] = f"Client {world['client_key']}"
        return client
    if api:
        client.defaults["HTTP_AUTHORIZATION"] = world["tokens"][persona]
    else:
        client.force_login(world["people"][persona])
    return client


# --- what was written -------------------------------------------------------------------------------------


def _app_tables() -> list[tuple[str, str]]:
    return sorted({(m._meta.db_table, m._meta.pk.column) for m in django_apps.get_models()
                   if m.__module__.startswith("apps.") and not m._meta.proxy and m._meta.managed})


# Usage bookkeeping that any authenticated call may write (at most once a minute), not a governed change.
BOOKKEEPING_COLUMNS = {"accounts_apitoken": "last_used_at"}


def _row_text(table: str) -> str:
    column = BOOKKEEPING_COLUMNS.get(table)
    return f"(to_jsonb(t) - '{column}')::text" if column else "t::text"


def fingerprint() -> dict[str, str]:
    """An md5 of every row of every table of our apps, ordered by primary key, per table (one query)."""
    parts = [f"SELECT '{table}', (SELECT md5(coalesce(string_agg({_row_text(table)}, '|' ORDER BY t.\"{pk}\"), ''))"
             f" FROM \"{table}\" t)" for table, pk in _app_tables()]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return dict(cursor.fetchall())


def files_under(folder) -> set[str]:
    found = set()
    for root, _, names in os.walk(folder):
        found.update(os.path.join(root, name) for name in names)
    return found


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- the world --------------------------------------------------------------------------------------------


def _csv(name="sample.csv", content=SAMPLE_CSV):
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def _build_world(monkeypatch, model_path) -> dict:
    from apps.accounts.services import user_create
    from apps.datasets.curation import label_audit_answer, label_audit_next, label_audit_start
    from apps.datasets.models import Dataset
    from apps.datasets.services import dataset_upload
    from apps.evaluation.models import Evaluation
    from apps.jobs.models import Job
    from apps.monitoring.models import Package
    from apps.monitoring.services import deployment_create, deployment_promote
    from apps.monitoring.traffic import client_token_issue
    from apps.notifications.models import Notification
    from apps.playbook.models import Play
    from apps.playbook.services import (gate_decide, member_add, play_job_start, play_submit,
                                        play_update_deliverable, project_create)
    from apps.monitoring.selectors import package_archive
    from tests.helpers import (measure_baseline, passing_play, prepare_audit, run_job, seal_now, submitted_play1,
                               use_plays)
    from tests.unit.test_play5 import ANSWERS, reach_play5

    people = {name: user_create(actor=None, username=name, password=PASSWORD)
              for name in ("mo", "do", "so", "so2", "duo", "outsider")}
    people["admin"] = user_create(actor=None, username="admin", password=PASSWORD, is_staff=True)
    _make_lead(people["admin"], people["duo"])  # duo is also a lead: the portfolio's rows allow them

    def staffed(name, request):
        project = project_create(actor=people["mo"], name=name, request=request)
        for username, roles in PERSONA_ROLES.items():
            for role in roles:
                if username != "mo" or role != "model_owner":
                    member_add(actor=people["mo"], project=project, username=username, role=role)
        member_add(actor=people["mo"], project=project, username="so2", role="signoff_owner")
        return project

    # Project P: carried to Play 6 with a package and a challenger deployment.
    p = staffed("Ticket routing", "Route support tickets to queues.")
    team_p = {**people, "project": p, "play1": p.cycles.get().plays.get(number=1)}
    state = reach_play5(team_p, lambda: _csv(), monkeypatch, model_path)
    play5 = state["play"]
    evaluation_job = Job.objects.filter(play=play5, kind="evaluate").latest("created_at")
    assert run_job(evaluation_job.pk).status == "succeeded"
    evaluation = Evaluation.objects.get(job=evaluation_job)
    play_update_deliverable(actor=people["so"], play=play5, deliverable={"evaluation": evaluation.pk, **ANSWERS})
    play_submit(actor=people["so"], play=play5)
    gate_decide(actor=people["so"], play=play5, decision="approve", reason="On the evidence.")
    record_job = Job.objects.filter(play=play5, kind="signoff_record").latest("created_at")
    assert run_job(record_job.pk).status == "succeeded"
    play6 = Play.objects.get(cycle=play5.cycle, number=6)
    package_job = Job.objects.filter(play=play6, kind="package").latest("created_at")
    assert run_job(package_job.pk).status == "succeeded"
    package = Package.objects.get(job=package_job)
    package_archive(package)  # the download's archive, written once: downloads then write nothing
    first = deployment_create(actor=people["mo"], package=package, reason="First model.")
    deployment_promote(actor=people["so"], deployment=first, reason="Approved in Play 5.")
    _, client_key = client_token_issue(actor=people["mo"], deployment=first, name="help-desk router")
    # A second package of the same play, not deployed yet: deploy, promote and roll back act on it.
    again = play_job_start(actor=people["mo"], play=play6, kind="package", params={"timing_calls": 0})
    assert run_job(again.pk).status == "succeeded"
    second = Package.objects.get(job=again)
    sealed = Dataset.objects.filter(project=p).exclude(split_sets=None).latest("pk")

    # Project Q: Play 1 with a measured baseline.
    q = staffed("Invoice triage", "Sort incoming invoices by department.")
    q_play1 = measure_baseline({**people, "project": q, "play1": q.cycles.get().plays.get(number=1)}, lambda: _csv())

    # Project R: Play 3 under way on a chosen (unsealed) dataset version, with two label audits of it: one
    # open for its auditor `so`, one answered in full with two disagreements left to settle.
    r = staffed("Churn signals", "Spot customers about to leave.")
    r_play1 = submitted_play1({**people, "project": r, "play1": r.cycles.get().plays.get(number=1)}, lambda: _csv())
    gate_decide(actor=people["so"], play=r_play1, decision="approve")
    with pytest.MonkeyPatch.context() as patch:
        use_plays(patch, {2: passing_play(2)})
        r_play2 = Play.objects.get(cycle=r_play1.cycle, number=2)
        play_update_deliverable(actor=people["mo"], play=r_play2, deliverable={})
        play_submit(actor=people["mo"], play=r_play2)
        gate_decide(actor=people["so"], play=r_play2, decision="approve")
    r_dataset = Dataset.objects.get(project=r)  # before the second version below
    r_play3 = Play.objects.get(cycle=r_play1.cycle, number=3)
    play_update_deliverable(actor=people["do"], play=r_play3, deliverable={"dataset": r_dataset.pk})
    seal_now(people["do"], r_dataset)
    second_version = dataset_upload(actor=people["do"], project=r, upload=_csv("second.csv", SAMPLE_CSV + "late row,bug\n"))
    open_audit = label_audit_start(actor=people["do"], dataset=second_version, size=10, auditor="so")
    assert prepare_audit(open_audit.pk) == "open"
    done_audit = label_audit_start(actor=people["do"], dataset=r_dataset, size=10, auditor="so", seed=1)
    assert prepare_audit(done_audit.pk) == "open"
    done_audit.refresh_from_db()
    disagreements = []
    while (served := label_audit_next(actor=people["so"], audit=done_audit)) is not None:
        item = served[0]
        answer = item.original_label
        if len(disagreements) < 2:
            answer = next(label for label in r_dataset.labels if label != item.original_label)
            disagreements.append(item.pk)
        done_audit = label_audit_answer(actor=people["so"], audit=done_audit, item_id=item.pk, label=answer)
    assert done_audit.status == "complete"

    # Notifications are made when an event commits; here nothing commits, so they are made the same way by hand.
    from apps.notifications.services import notify_for_event

    for event in AuditEvent.objects.filter(project=p).order_by("id"):
        notify_for_event(event)
    notification = Notification.objects.filter(recipient=people["so"]).latest("pk")
    tokens = {name: api_token(people[name]) for name in ("mo", "do", "so", "duo", "outsider", "admin")}
    from apps.accounts.services import api_token_create

    mo_token = api_token_create(actor=people["mo"], name="nightly export", days=30).token
    return {
        "people": people, "tokens": tokens, "client_key": client_key,
        "P": p.pk, "Q": q.pk, "p_play2": Play.objects.get(cycle=play5.cycle, number=2).pk, "p_play6": play6.pk,
        "p_play3": Play.objects.get(cycle=play5.cycle, number=3).pk,
        "evaluation": evaluation.pk, "package": package.pk, "production": first.pk, "package2": second.pk,
        "sealed": sealed.pk, "q_play1": q_play1.pk, "q_dataset": Dataset.objects.get(project=q).pk,
        "q_job": q_play1.jobs.get().pk, "r_play3": r_play3.pk, "r_dataset": r_dataset.pk,
        "audit": open_audit.pk, "done_audit": done_audit.pk, "disagreement": disagreements[0],
        "notification": notification.pk, "mo_token": mo_token.pk,
    }


def _make_lead(admin, user):
    """Grant `user` the portfolio permission as an admin does in the admin site (audited)."""
    from django.contrib.auth.models import Permission

    from apps.accounts.services import user_admin_relations_save

    permission = Permission.objects.get(codename="view_portfolio", content_type__app_label="playbook")
    user_admin_relations_save(actor=admin, user=user, save_m2m=lambda: user.user_permissions.add(permission))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    from tests.unit.engine.conftest import build_tiny_bert

    data_dir = tmp_path_factory.mktemp("matrix-data")
    model_path = build_tiny_bert(tmp_path_factory.mktemp("matrix-bert"), layers=2, seed=0)
    with django_db_blocker.unblock(), override_settings(
            DATA_DIR=data_dir, PLAYBOOK_ZERO_SHOT_ENCODER="none",
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        # The module's transaction: marked as a test case's, so the services' durable blocks nest in it.
        outer = transaction.atomic()
        outer._from_testcase = True
        outer.__enter__()
        try:
            with pytest.MonkeyPatch.context() as monkeypatch:
                built = _build_world(monkeypatch, model_path)
            yield {**built, "data_dir": data_dir}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _private_data_dir(settings, world):
    """Replaces the unit tests' per-test data folder: every call here meets the world's own files."""
    settings.DATA_DIR = world["data_dir"]
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"


# --- the matrix -------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One route and method. ``allowed`` maps each allowed persona to its status; every other persona is
    refused with the status `refused_status` gives. ``events``: the audit actions an allowed call adds, in
    order; ``tables``: the tables it changes (besides the audit table); ``check``: the changed fields."""
    method: str
    pattern: str
    args: dict
    allowed: dict
    body: Callable | dict | None = None
    events: list = field(default_factory=list)
    tables: set | dict = field(default_factory=set)
    files: bool = False
    location: str | None = None
    check: Callable | None = None
    prepare: Callable | None = None
    refused: dict = field(default_factory=dict)
    note: str = ""

    @property
    def api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.pattern

    def url(self, world) -> str:
        def value(match):
            name = match.group(2)
            given = self.args[name]
            return str(world[given]) if given in world else str(given)
        return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, self.pattern)

    def expected(self, persona: str) -> int:
        if persona in self.allowed:
            return self.allowed[persona]
        if persona in self.refused:
            return self.refused[persona]
        if persona in ("anonymous", "client"):
            return 401 if self.api else 302
        if persona == "outsider":
            return 404
        return 403


def _member(status):
    return {p: status for p in ("mo", "do", "so", "duo", "admin")}


EVERYONE = {p: 200 for p in ("mo", "do", "so", "duo", "outsider", "admin")}
MEMBERS = _member(200)

# --- the effects an allowed call must have ------------------------------------------------------------------

NEW_PROJECT = ["project.created", "member.role_granted", "cycle.opened", "play.ready"]
NEW_PROJECT_TABLES = {"accounts_membership", "playbook_cycle", "playbook_play", "playbook_project"}
CLOSE = ["play.skipped"] * 6 + ["cycle.closed", "project.closed"]  # Play 1 is under way; 2-6 still locked
RETRAIN = ["play.skipped", "cycle.closed", "cycle.opened", "play.ready"]  # Play 6 was under way
DEPLOYMENT_TABLES = {"monitoring_deployment", "monitoring_stagechange"}
READ_ALL = {p: {"notifications_notification"} for p in ("mo", "do", "so", "duo")}  # the others have none


def _model(label):
    return django_apps.get_model(label)


def _project(w, key="Q"):
    return _model("playbook.Project").objects.get(pk=w[key])


def _play(w, key):
    return _model("playbook.Play").objects.get(pk=w[key])


def _new_project_page(w, r, persona):
    project = _model("playbook.Project").objects.latest("pk")
    assert project.name == "New one" and r["Location"] == f"/projects/{project.pk}/"
    assert project.memberships.filter(user=w["people"][persona], role="model_owner").exists()


def _outsider_joined(w, r, persona):
    assert _project(w).memberships.filter(user__username="outsider", role="data_owner").exists()


def _solo(w, r, persona):
    assert _project(w).solo_mode is True


def _two_approvals(w, r, persona):
    assert _project(w).signoff_approvals == 2


def _deliverable_saved(w, r, persona):
    assert _play(w, "q_play1").deliverable["problem_statement"].startswith("Sort incoming invoices")


def _submitted(w, r, persona):
    play = _play(w, "q_play1")
    assert play.status == "submitted" and play.submitted_by == w["people"][persona]


def _approved(w, r, persona):
    play = _play(w, "q_play1")
    decision = play.decisions.get()
    assert play.status == "approved" and (decision.decision, decision.decided_by) == ("approve", w["people"]["so"])


def _closed(w, r, persona):
    project = _project(w)
    assert project.status == "abandoned" and project.closed_reason == "Withdrawn" and project.closed_at


def _retrain_opened(w, r, persona):
    cycles = list(_project(w, "P").cycles.order_by("pk").values_list("status", flat=True))
    assert cycles == ["closed", "active"]


def _uploaded_to(key):
    def check(w, r, persona):
        dataset = _model("datasets.Dataset").objects.filter(project_id=w[key]).latest("pk")
        assert dataset.uploaded_by == w["people"][persona] and dataset.rows == 44
        assert (w["data_dir"] / dataset.path).exists()
    return check


def _baseline_queued(w, r, persona):
    job = _play(w, "q_play1").jobs.latest("pk")
    assert (job.kind, job.status, job.created_by) == ("baseline", "queued", w["people"][persona])


def _candidate_registered(w, r, persona):
    candidate = _model("training.Candidate").objects.latest("pk")
    assert (candidate.name, candidate.source, candidate.project_id) == ("c", "some-org/some-encoder", w["P"])


def _seal_queued(w, r, persona):
    job = _model("jobs.Job").objects.latest("pk")
    assert job.status == "queued" and job.created_by == w["people"][persona] and job.params["train"] == 0.7


def _audit_started(w, r, persona):
    audit = _model("datasets.LabelAudit").objects.latest("pk")
    assert (audit.dataset_id, audit.auditor.username, audit.status) == (w["r_dataset"], "so", "preparing")
    assert _play(w, "r_play3").deliverable["audit"] == audit.pk


def _kept(w, r, persona):
    item = _model("datasets.LabelAuditItem").objects.get(pk=w["disagreement"])
    assert (item.resolution, item.resolution_note) == ("kept", "The original is right.")


def _thresholds_saved(w, r, persona):
    assert float(_play(w, "p_play6").deliverable["drift_thresholds"]["text"]) == 0.7


def _challenger_deployed(w, r, persona):
    deployment = _model("monitoring.Deployment").objects.get(package_id=w["package2"])
    assert deployment.stage == "challenger"


def _stages(production, challenger):
    def check(w, r, persona):
        deployments = _model("monitoring.Deployment").objects
        assert deployments.get(pk=w["production"]).stage == production
        assert deployments.get(pk=w["challenger"]).stage == challenger
    return check


def _cancel_requested(w, r, persona):
    assert _model("jobs.Job").objects.get(pk=w["queued_job"]).cancel_requested


def _answered(w, r, persona):
    assert _model("datasets.LabelAuditItem").objects.get(pk=w["next_item"]).answer == "bug"


def _audit_status(status):
    def check(w, r, persona):
        assert _model("datasets.LabelAudit").objects.get(pk=w["audit"]).status == status
    return check


def _reassigned(w, r, persona):
    assert _model("datasets.LabelAudit").objects.get(pk=w["audit"]).auditor.username == "so2"


def _notification_read(w, r, persona):
    assert _model("notifications.Notification").objects.get(pk=w["notification"]).read_at is not None


def _all_read(w, r, persona):
    assert not _model("notifications.Notification").objects.filter(recipient=w["people"][persona],
                                                                    read_at=None).exists()


def _email_off(w, r, persona):
    assert _model("notifications.NotificationPreference").objects.get(user=w["people"][persona]).email is False


def _token_returned(w, r, persona):
    from apps.core.tokens import token_digest

    token = _model("accounts.ApiToken").objects.get(key_sha256=token_digest(r.json()["token"]))
    assert token.user.username == "mo" and token.revoked_at is None


def _token_made(w, r, persona):
    from apps.core.tokens import token_digest

    token = _model("accounts.ApiToken").objects.latest("pk")
    assert (token.user, token.name) == (w["people"][persona], "build machine")
    key = r.json()["key"] if r["Content-Type"].startswith("application/json") else None
    if key is None:  # the page shows the key once, in its body
        key = re.search(rb"pbt_[A-Za-z0-9_-]+", r.content).group().decode()
    assert token.key_sha256 == token_digest(key)


def _token_revoked(w, r, persona):
    token = _model("accounts.ApiToken").objects.get(pk=w["mo_token"])
    assert token.revoked_at and token.revoked_by == w["people"][persona]


_uploads = itertools.count()


def _upload(world):
    """A file whose bytes no earlier upload had, so that storing it shows as a new file."""
    extra = "".join(f"refund {next(_uploads)} not received {i},billing\n" for i in range(5))
    return {"file": _csv("more.csv", SAMPLE_CSV + extra)}


def _submit_q_play1(world):
    from apps.playbook.models import Play
    from apps.playbook.services import play_submit

    play_submit(actor=world["people"]["mo"], play=Play.objects.get(pk=world["q_play1"]))


def _queue_q_job(world):
    from apps.playbook.models import Play
    from apps.playbook.services import play_job_start

    job = play_job_start(actor=world["people"]["mo"], play=Play.objects.get(pk=world["q_play1"]), kind="baseline",
                         params={})
    world["queued_job"] = job.pk


def _next_item(world):
    """The item the open audit serves its auditor next (serving it first, as the auditor's page would)."""
    from apps.datasets.curation import label_audit_next
    from apps.datasets.models import LabelAudit

    item, _ = label_audit_next(actor=world["people"]["so"], audit=LabelAudit.objects.get(pk=world["audit"]))
    world["next_item"] = item.pk


def _challenger(world):
    """The second package deployed as the challenger."""
    from apps.monitoring.models import Package
    from apps.monitoring.services import deployment_create

    deployment = deployment_create(actor=world["people"]["mo"], package=Package.objects.get(pk=world["package2"]),
                                   reason="Retrained.")
    world["challenger"] = deployment.pk
    return deployment


def _challenger_in_production(world):
    from apps.monitoring.services import deployment_promote

    deployment_promote(actor=world["people"]["so"], deployment=_challenger(world), reason="Better on the test split.")


def _logged_prediction(world, *, feedback=False):
    from apps.monitoring.models import Deployment
    from apps.monitoring.traffic import feedback_ingest, predictions_ingest

    deployment = Deployment.objects.get(pk=world["production"])
    predictions_ingest(deployment=deployment, rows=[{"id": "r-1", "text": "charged twice", "label": "billing",
                                                     "probabilities": PROBABILITIES}])
    if feedback:
        feedback_ingest(deployment=deployment, rows=[{"id": "r-1", "label": "billing"}])


PROBABILITIES = [0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]  # one per label of the packaged model
CANDIDATE = {"name": "c", "source": "some-org/some-encoder", "licence": "MIT", "domain_rating": 3,
             "latency_budget_ms": 20, "memory_budget_mb": 500}
OWNERS = {"mo": 302, "duo": 302}
DATA = {"do": 302, "duo": 302}
SIGNED_IN_302 = {p: 302 for p in ("mo", "do", "so", "duo", "outsider", "admin")}
NOT_THEIR_TOKEN = {p: 404 for p in ("do", "so", "duo", "outsider")}  # the same 404 as a token that does not exist

ROWS: list[Row] = [
    # --- pages ---
    Row("GET", "", {}, EVERYONE),
    Row("GET", "projects/", {}, EVERYONE),
    Row("POST", "projects/", {}, SIGNED_IN_302, body={"name": "New one", "request": "Sort mail."},
        events=NEW_PROJECT, tables=NEW_PROJECT_TABLES, check=_new_project_page),
    Row("GET", "projects/<int:project_id>/", {"project_id": "Q"}, MEMBERS),
    Row("POST", "projects/<int:project_id>/members/", {"project_id": "Q"}, {"mo": 302, "duo": 302, "admin": 302},
        body={"username": "outsider", "role": "data_owner"},
        events=["member.role_granted"], tables={"accounts_membership"}, location="/projects/{Q}/", check=_outsider_joined),
    Row("POST", "projects/<int:project_id>/solo/", {"project_id": "Q"}, {"admin": 302}, body={"solo_mode": "on"},
        events=["project.solo_mode_set"], tables={"playbook_project"}, location="/projects/{Q}/", check=_solo),
    Row("POST", "projects/<int:project_id>/signoff-approvals/", {"project_id": "Q"}, {"admin": 302},
        body={"approvals": "2"},
        events=["project.signoff_approvals_set"], tables={"playbook_project"}, location="/projects/{Q}/", check=_two_approvals),
    Row("GET", "plays/<int:play_id>/", {"play_id": "q_play1"}, MEMBERS),
    Row("POST", "plays/<int:play_id>/", {"play_id": "q_play1"}, OWNERS,
        body={"problem_statement": "Sort incoming invoices so that nobody forwards them by hand any more."},
        events=["play.deliverable_updated"], tables={"playbook_play"}, location="/plays/{q_play1}/", check=_deliverable_saved),
    Row("POST", "plays/<int:play_id>/submit/", {"play_id": "q_play1"}, OWNERS,
        events=["play.submitted"], tables={"playbook_play"}, location="/plays/{q_play1}/", check=_submitted),
    Row("POST", "plays/<int:play_id>/decide/", {"play_id": "q_play1"}, {"so": 302}, prepare=_submit_q_play1,
        body={"decision": "approve", "reason": "Good enough."},
        events=["gate.approve", "play.ready"], tables={"playbook_gatedecision", "playbook_play"}, location="/projects/{Q}/", check=_approved),
    Row("POST", "projects/<int:project_id>/close/", {"project_id": "Q"}, {"mo": 302, "duo": 302, "admin": 302},
        body={"outcome": "abandoned", "reason": "Withdrawn"},
        events=CLOSE, tables={"playbook_cycle", "playbook_play", "playbook_project"}, location="/projects/{Q}/", check=_closed),
    Row("POST", "projects/<int:project_id>/retrain/", {"project_id": "P"}, {"mo": 302, "do": 302, "duo": 302},
        body={"reason": "New data"},
        events=RETRAIN, tables={"playbook_cycle", "playbook_play"}, location="/projects/{P}/", check=_retrain_opened),
    Row("POST", "plays/<int:play_id>/datasets/", {"play_id": "q_play1"}, OWNERS, body=_upload,
        events=["dataset.uploaded"], tables={"datasets_dataset"}, files=True, location="/plays/{q_play1}/#data", check=_uploaded_to("Q")),
    Row("POST", "plays/<int:play_id>/jobs/", {"play_id": "q_play1"}, OWNERS, body={"kind": "baseline"},
        events=["job.queued"], tables={"training_job"}, location="/plays/{q_play1}/#job", check=_baseline_queued),
    Row("POST", "plays/<int:play_id>/candidates/", {"play_id": "p_play2"}, OWNERS,
        body={k: str(v) for k, v in CANDIDATE.items()},
        events=["candidate.registered"], tables={"training_candidate"}, location="/plays/{p_play2}/#candidates", check=_candidate_registered),
    Row("POST", "plays/<int:play_id>/seal/", {"play_id": "r_play3"}, DATA,
        body={"train": "0.7", "val": "0.15", "test": "0.15"},
        events=["job.queued"], tables={"training_job"}, location="/plays/{r_play3}/#splits", check=_seal_queued),
    Row("POST", "plays/<int:play_id>/audit/", {"play_id": "r_play3"}, DATA, body={"size": "10", "auditor": "so"},
        events=["label_audit.started", "job.queued", "play.deliverable_updated"], tables={"datasets_labelaudit", "playbook_play", "training_job"}, location="/plays/{r_play3}/#audit", check=_audit_started),
    Row("POST", "plays/<int:play_id>/audits/<int:audit_id>/resolve/", {"play_id": "r_play3", "audit_id": "done_audit"},
        DATA, body=lambda w: {"item": str(w["disagreement"]), "action": "keep", "note": "The original is right."},
        events=["label_audit.resolved"], tables={"datasets_labelaudititem"}, location="/plays/{r_play3}/#audit", check=_kept),
    Row("POST", "plays/<int:play_id>/production/", {"play_id": "r_play3"}, DATA, body=_upload,
        events=["dataset.uploaded", "job.queued"], tables={"datasets_dataset", "training_job"}, files=True, location="/plays/{r_play3}/#balance"),
    Row("GET", "evaluations/<int:evaluation_id>/record.<str:fmt>", {"evaluation_id": "evaluation", "fmt": "html"},
        MEMBERS),
    Row("GET", "evaluations/<int:evaluation_id>/predictions.jsonl", {"evaluation_id": "evaluation"},
        {"so": 200, "admin": 200},
        events=["evaluation.predictions_downloaded"]),
    Row("POST", "plays/<int:play_id>/thresholds/", {"play_id": "p_play6"}, {"mo": 302, "do": 302, "duo": 302},
        body={"drift_thresholds.text": "0.7"},
        events=["play.deliverable_updated"], tables={"playbook_play"}, location="/plays/{p_play6}/#thresholds", check=_thresholds_saved),
    Row("POST", "packages/<int:package_id>/deploy/", {"package_id": "package2"}, OWNERS, body={"reason": "Again"},
        events=["deployment.deploy"], tables=DEPLOYMENT_TABLES, location="/plays/{p_play6}/", check=_challenger_deployed),
    Row("GET", "packages/<int:package_id>/download/", {"package_id": "package"}, MEMBERS),
    Row("GET", "deployments/<int:deployment_id>/monitoring/", {"deployment_id": "production"}, MEMBERS),
    Row("POST", "deployments/<int:deployment_id>/production-data/", {"deployment_id": "production"}, DATA,
        prepare=lambda w: _logged_prediction(w, feedback=True),
        events=["dataset.rows_appended"], tables={"datasets_dataset"}, files=True, location="/plays/{p_play3}/"),
    Row("POST", "deployments/<int:deployment_id>/promote/", {"deployment_id": "challenger"}, {"so": 302},
        prepare=_challenger,
        body={"reason": "Approved in Play 5."},
        events=["deployment.retire", "deployment.promote"], tables=DEPLOYMENT_TABLES, location="/plays/{p_play6}/", check=_stages("retired", "production")),
    Row("POST", "deployments/<int:deployment_id>/rollback/", {"deployment_id": "challenger"}, {"so": 302},
        prepare=_challenger_in_production, body={"reason": "Complaints."},
        events=["deployment.rollback", "deployment.restore"], tables=DEPLOYMENT_TABLES, location="/plays/{p_play6}/", check=_stages("production", "retired")),
    Row("GET", "jobs/<int:job_id>/progress/", {"job_id": "q_job"}, MEMBERS),
    Row("POST", "jobs/<int:job_id>/cancel/", {"job_id": "queued_job"}, OWNERS, prepare=_queue_q_job,
        events=["job.cancel_requested"], tables={"training_job"}, location="/plays/{q_play1}/", check=_cancel_requested),
    Row("GET", "audit/", {}, {"admin": 200}, refused={"outsider": 403}),
    Row("GET", "audits/<int:audit_id>/", {"audit_id": "audit"}, {"so": 200}),
    Row("POST", "audits/<int:audit_id>/", {"audit_id": "audit"}, {"so": 302}, prepare=_next_item,
        body=lambda w: {"item": str(w["next_item"]), "label": "bug"},
        events=["label_audit.answered"], tables={"datasets_labelaudititem"}, location="/audits/{audit}/", check=_answered),
    Row("POST", "audits/<int:audit_id>/cancel/", {"audit_id": "audit"}, DATA,
        events=["label_audit.cancelled"], tables={"datasets_labelaudit"}, location="/plays/{r_play3}/#audit", check=_audit_status("cancelled")),
    Row("POST", "audits/<int:audit_id>/reassign/", {"audit_id": "audit"}, DATA, body={"auditor": "so2"},
        events=["label_audit.reassigned"], tables={"datasets_labelaudit"}, location="/plays/{r_play3}/#audit", check=_reassigned),
    Row("GET", "inbox/", {}, EVERYONE),
    Row("POST", "inbox/<int:notification_id>/read/", {"notification_id": "notification"}, {"so": 302},
        refused={"mo": 404, "do": 404, "duo": 404, "admin": 404},
        tables={"notifications_notification"}, location="/inbox/", check=_notification_read),
    Row("POST", "inbox/read-all/", {}, SIGNED_IN_302,
        tables=READ_ALL, location="/inbox/", check=_all_read),
    Row("POST", "inbox/preferences/", {}, SIGNED_IN_302, body={"email": "off"},
        events=["notifications.email_set"], tables={"notifications_notificationpreference"}, location="/inbox/", check=_email_off),
    Row("GET", "accounts/tokens/", {}, EVERYONE),
    Row("POST", "accounts/tokens/new/", {}, EVERYONE, body={"name": "build machine"},
        events=["auth.token_issued"], tables={"accounts_apitoken"}, check=_token_made),
    Row("POST", "accounts/tokens/<int:token_id>/revoke/", {"token_id": "mo_token"}, {"mo": 302, "admin": 302},
        refused=NOT_THEIR_TOKEN, events=["auth.token_revoked"], tables={"accounts_apitoken"},
        location="/accounts/tokens/", check=_token_revoked),
    # The portfolio: admins and leads (duo holds playbook.view_portfolio); every other person a 403.
    Row("GET", "portfolio/", {}, {"admin": 200, "duo": 200}, refused={"outsider": 403}),
    # --- API ---
    Row("POST", "api/auth/token/", {}, {p: 200 for p in PERSONAS},
        body={"username": "mo", "password": PASSWORD},
        events=["auth.token_issued"], tables={"accounts_apitoken"}, check=_token_returned),
    Row("GET", "api/tokens/", {}, EVERYONE),
    Row("POST", "api/tokens/", {}, {p: 201 for p in EVERYONE}, body={"name": "build machine"},
        events=["auth.token_issued"], tables={"accounts_apitoken"}, check=_token_made),
    Row("GET", "api/tokens/<int:token_id>/", {"token_id": "mo_token"}, {"mo": 200, "admin": 200},
        refused=NOT_THEIR_TOKEN),
    Row("DELETE", "api/tokens/<int:token_id>/", {"token_id": "mo_token"}, {"mo": 200, "admin": 200},
        refused=NOT_THEIR_TOKEN, events=["auth.token_revoked"], tables={"accounts_apitoken"}, check=_token_revoked),
    Row("GET", "api/projects/", {}, EVERYONE),
    Row("POST", "api/projects/", {}, {p: 201 for p in EVERYONE}, body={"name": "New one", "request": "Sort mail."},
        events=NEW_PROJECT, tables=NEW_PROJECT_TABLES),
    Row("GET", "api/projects/<int:project_id>/", {"project_id": "Q"}, MEMBERS),
    Row("POST", "api/projects/<int:project_id>/members/", {"project_id": "Q"}, {"mo": 201, "duo": 201, "admin": 201},
        body={"username": "outsider", "role": "data_owner"},
        events=["member.role_granted"], tables={"accounts_membership"}, check=_outsider_joined),
    Row("POST", "api/projects/<int:project_id>/solo/", {"project_id": "Q"}, {"admin": 200}, body={"solo_mode": True},
        events=["project.solo_mode_set"], tables={"playbook_project"}, check=_solo),
    Row("POST", "api/projects/<int:project_id>/signoff-approvals/", {"project_id": "Q"}, {"admin": 200},
        body={"approvals": 2},
        events=["project.signoff_approvals_set"], tables={"playbook_project"}, check=_two_approvals),
    Row("POST", "api/projects/<int:project_id>/close/", {"project_id": "Q"}, {"mo": 200, "duo": 200, "admin": 200},
        body={"outcome": "abandoned", "reason": "Withdrawn"},
        events=CLOSE, tables={"playbook_cycle", "playbook_play", "playbook_project"}, check=_closed),
    Row("POST", "api/projects/<int:project_id>/retrain/", {"project_id": "P"}, {"mo": 201, "do": 201, "duo": 201},
        body={"reason": "New data"},
        events=RETRAIN, tables={"playbook_cycle", "playbook_play"}, check=_retrain_opened),
    Row("GET", "api/projects/<int:project_id>/plays/", {"project_id": "Q"}, MEMBERS),
    Row("GET", "api/projects/<int:project_id>/datasets/", {"project_id": "Q"}, MEMBERS),
    Row("POST", "api/projects/<int:project_id>/datasets/", {"project_id": "Q"}, {"mo": 201, "do": 201, "duo": 201},
        body=_upload,
        events=["dataset.uploaded"], tables={"datasets_dataset"}, files=True, check=_uploaded_to("Q")),
    Row("GET", "api/projects/<int:project_id>/candidates/", {"project_id": "P"}, MEMBERS),
    Row("POST", "api/projects/<int:project_id>/candidates/", {"project_id": "P"}, {"mo": 201, "duo": 201},
        body=CANDIDATE,
        events=["candidate.registered"], tables={"training_candidate"}, check=_candidate_registered),
    Row("POST", "api/datasets/<int:dataset_id>/seal/", {"dataset_id": "q_dataset"}, {"do": 202, "duo": 202},
        body={"train": 0.7, "val": 0.15, "test": 0.15},
        events=["job.queued"], tables={"training_job"}),
    Row("GET", "api/datasets/<int:dataset_id>/splits/", {"dataset_id": "sealed"}, MEMBERS),
    Row("POST", "api/datasets/<int:dataset_id>/audit/", {"dataset_id": "sealed"}, {"do": 201, "duo": 201},
        body={"size": 10, "auditor": "so"},
        events=["label_audit.started", "job.queued"], tables={"datasets_labelaudit", "training_job"}),
    Row("POST", "api/datasets/<int:dataset_id>/production-sample/", {"dataset_id": "sealed"},
        {"do": 202, "duo": 202}, body=_upload,
        events=["dataset.uploaded", "job.queued"], tables={"datasets_dataset", "training_job"}, files=True),
    Row("GET", "api/audits/<int:audit_id>/", {"audit_id": "audit"}, MEMBERS),
    Row("GET", "api/audits/<int:audit_id>/next/", {"audit_id": "audit"}, {"so": 200}),
    Row("POST", "api/audits/<int:audit_id>/answers/", {"audit_id": "audit"}, {"so": 201},
        prepare=_next_item, body=lambda w: {"item": w["next_item"], "label": "bug"},
        events=["label_audit.answered"], tables={"datasets_labelaudititem"}, check=_answered),
    Row("POST", "api/audits/<int:audit_id>/resolutions/", {"audit_id": "done_audit"}, {"do": 200, "duo": 200},
        body=lambda w: {"item": w["disagreement"], "action": "keep", "note": "The original is right."},
        events=["label_audit.resolved"], tables={"datasets_labelaudititem"}, check=_kept),
    Row("POST", "api/audits/<int:audit_id>/cancel/", {"audit_id": "audit"}, {"do": 200, "duo": 200},
        events=["label_audit.cancelled"], tables={"datasets_labelaudit"}, check=_audit_status("cancelled")),
    Row("POST", "api/audits/<int:audit_id>/reassign/", {"audit_id": "audit"}, {"do": 200, "duo": 200},
        body={"auditor": "so2"},
        events=["label_audit.reassigned"], tables={"datasets_labelaudit"}, check=_reassigned),
    Row("GET", "api/plays/<int:play_id>/", {"play_id": "q_play1"}, MEMBERS),
    Row("PATCH", "api/plays/<int:play_id>/", {"play_id": "q_play1"}, {"mo": 200, "duo": 200},
        body={"deliverable": {"problem_statement": "Sort incoming invoices so nobody forwards them by hand."}},
        events=["play.deliverable_updated"], tables={"playbook_play"}, check=_deliverable_saved),
    Row("POST", "api/plays/<int:play_id>/submit/", {"play_id": "q_play1"}, {"mo": 200, "duo": 200},
        events=["play.submitted"], tables={"playbook_play"}, check=_submitted),
    Row("POST", "api/plays/<int:play_id>/decision/", {"play_id": "q_play1"}, {"so": 201}, prepare=_submit_q_play1,
        body={"decision": "approve", "reason": "Good enough."},
        events=["gate.approve", "play.ready"], tables={"playbook_gatedecision", "playbook_play"}, check=_approved),
    Row("GET", "api/evaluations/<int:evaluation_id>/", {"evaluation_id": "evaluation"}, MEMBERS),
    Row("GET", "api/evaluations/<int:evaluation_id>/predictions/", {"evaluation_id": "evaluation"},
        {"so": 200, "admin": 200},
        events=["evaluation.predictions_downloaded"]),
    Row("GET", "api/evaluations/<int:evaluation_id>/record.<str:fmt>", {"evaluation_id": "evaluation", "fmt": "html"},
        MEMBERS),
    Row("GET", "api/packages/<int:package_id>/", {"package_id": "package"}, MEMBERS),
    Row("GET", "api/packages/<int:package_id>/download/", {"package_id": "package"}, MEMBERS),
    Row("POST", "api/deployments/", {}, {"mo": 201, "duo": 201}, body=lambda w: {"package": w["package2"]},
        events=["deployment.deploy"], tables=DEPLOYMENT_TABLES, check=_challenger_deployed),
    Row("GET", "api/deployments/<int:deployment_id>/", {"deployment_id": "production"}, MEMBERS),
    Row("POST", "api/deployments/<int:deployment_id>/promote/", {"deployment_id": "challenger"}, {"so": 200},
        prepare=_challenger,
        body={"reason": "Approved in Play 5."},
        events=["deployment.retire", "deployment.promote"], tables=DEPLOYMENT_TABLES, check=_stages("retired", "production")),
    Row("POST", "api/deployments/<int:deployment_id>/rollback/", {"deployment_id": "challenger"}, {"so": 200},
        prepare=_challenger_in_production, body={"reason": "Complaints."},
        events=["deployment.rollback", "deployment.restore"], tables=DEPLOYMENT_TABLES, check=_stages("production", "retired")),
    Row("POST", "api/deployments/<int:deployment_id>/predict/", {"deployment_id": "production"},
        {"mo": 200, "do": 200, "duo": 200, "client": 200}, body={"texts": ["I was charged twice"]},
        tables={"monitoring_predictionlog"}),
    Row("POST", "api/deployments/<int:deployment_id>/predictions/", {"deployment_id": "production"},
        {"mo": 201, "do": 201, "duo": 201, "client": 201},
        body={"predictions": [{"id": "r-2", "text": "hello", "label": "billing", "probabilities": PROBABILITIES}]},
        tables={"monitoring_predictionlog"}),
    Row("POST", "api/deployments/<int:deployment_id>/feedback/", {"deployment_id": "production"},
        {"mo": 201, "do": 201, "duo": 201, "client": 201}, body={"feedback": [{"id": "r-1", "label": "billing"}]},
        prepare=_logged_prediction,
        tables={"monitoring_feedback"}),
    Row("GET", "api/deployments/<int:deployment_id>/windows/", {"deployment_id": "production"}, MEMBERS),
    Row("POST", "api/deployments/<int:deployment_id>/production-data/", {"deployment_id": "production"},
        {"do": 201, "duo": 201}, prepare=lambda w: _logged_prediction(w, feedback=True),
        events=["dataset.rows_appended"], tables={"datasets_dataset"}, files=True),
    Row("GET", "api/alerts/", {}, EVERYONE),
    Row("POST", "api/jobs/", {}, {"mo": 201, "duo": 201},
        body=lambda w: {"play": w["q_play1"], "kind": "baseline", "params": {}},
        events=["job.queued"], tables={"training_job"}, check=_baseline_queued),
    Row("GET", "api/jobs/<int:job_id>/", {"job_id": "q_job"}, MEMBERS),
    Row("POST", "api/jobs/<int:job_id>/cancel/", {"job_id": "queued_job"}, {"mo": 200, "duo": 200},
        prepare=_queue_q_job,
        events=["job.cancel_requested"], tables={"training_job"}, check=_cancel_requested),
    Row("GET", "api/notifications/", {}, EVERYONE),
    Row("POST", "api/notifications/<int:notification_id>/read/", {"notification_id": "notification"}, {"so": 200},
        refused={"mo": 404, "do": 404, "duo": 404, "admin": 404},
        tables={"notifications_notification"}, check=_notification_read),
    Row("POST", "api/notifications/read-all/", {}, EVERYONE,
        tables=READ_ALL, check=_all_read),
    Row("GET", "api/notifications/preferences/", {}, EVERYONE),
    Row("POST", "api/notifications/preferences/", {}, EVERYONE, body={"email": False},
        events=["notifications.email_set"], tables={"notifications_notificationpreference"}, check=_email_off),
    Row("GET", "api/audit/", {}, {"admin": 200}, refused={"outsider": 403}),
    # The portfolio's API: admins and leads (duo holds playbook.view_portfolio); everyone else a 403.
    Row("GET", "api/portfolio/", {}, {"admin": 200, "duo": 200}, refused={"outsider": 403}),
]


# --- running one call -------------------------------------------------------------------------------------


def _send(client, row: Row, url: str, world):
    body = row.body(world) if callable(row.body) else row.body
    if row.method == "GET":
        return client.get(url, body or {})
    if row.api and not (isinstance(body, dict) and any(isinstance(v, SimpleUploadedFile) for v in body.values())):
        return client.generic(row.method, url, _json(body), content_type="application/json")
    return client.generic(row.method, url, _encode_multipart(client, body or {}), content_type=_MULTIPART)


_MULTIPART = "multipart/form-data; boundary=BoUnDaRyStRiNg"


def _encode_multipart(client, data):
    from django.test.client import encode_multipart

    return encode_multipart("BoUnDaRyStRiNg", data)


def _json(body):
    import json

    return json.dumps(body if body is not None else {})


def _error_messages(response) -> list[str]:
    storage = getattr(response.wsgi_request, "_messages", None)
    queued = getattr(storage, "_queued_messages", []) if storage is not None else []
    return [str(m) for m in queued if m.level_tag == "error"]


def _cases():
    for row in ROWS:
        for persona in PERSONAS:
            yield pytest.param(row, persona, id=f"{row.method} /{row.pattern} as {persona}")


@pytest.mark.parametrize("row,persona", list(_cases()))
def test_route_answers_each_persona_with_its_effect(world, row, persona):
    if row.prepare:
        row.prepare(world)
    client = client_for(world, persona, row.api)
    url = row.url(world)
    tables_before, files_before, last_event = fingerprint(), files_under(world["data_dir"]), _last_event_id()
    response = _send(client, row, url, world)
    tables_after, files_after = fingerprint(), files_under(world["data_dir"])
    changed = {t for t in tables_after if tables_after[t] != tables_before[t]} - {"audit_auditevent", "audit_auditchainhead"}
    events = list(AuditEvent.objects.filter(id__gt=last_event).order_by("id").values_list("action", flat=True))
    new_files = files_after - files_before
    expected = row.expected(persona)
    seen = (f"{row.method} {url} as {persona}: {response.status_code}, events {events}, tables {sorted(changed)}, "
            f"files {len(new_files)}, location {response.get('Location')}, errors {_error_messages(response)}")
    if os.environ.get("MATRIX_DISCOVER"):
        print("SEEN", seen, response.content[:200] if response.status_code >= 400 else "")
    assert response.status_code == expected, seen + f" {response.content[:300]!r}"
    if persona in row.allowed:
        assert events == row.events, seen
        tables = row.tables.get(persona, set()) if isinstance(row.tables, dict) else row.tables
        assert changed == tables, seen
        assert bool(new_files) == row.files, seen
        if not row.api:
            assert not _error_messages(response), seen
            if row.location is not None:
                assert response["Location"] == row.location.format(**world), seen
        if row.check:
            row.check(world, response, persona)
        return
    # Refused: nothing written at all, and nothing of the project shown to those outside it.
    assert tables_after == tables_before, seen
    assert not new_files and not events, seen
    if persona in ("anonymous", "client") and not row.api:
        assert response["Location"].startswith("/accounts/login/"), seen
    if persona in ("outsider", "anonymous", "client"):
        for name in ("Ticket routing", "Invoice triage"):
            assert name.encode() not in response.content, seen


# --- every route has a row --------------------------------------------------------------------------------


def test_every_route_and_method_has_a_row_and_the_schema_agrees(make_user):
    admin = make_user("probe-admin", staff=True)
    probe = Client()
    probe.force_login(admin)
    routes = resolver_routes()
    found = {(method, pattern) for pattern, callback in routes.items()
             for method in route_methods(pattern, callback, probe)}
    rows = {row.key for row in ROWS}
    missing = sorted(found - rows)
    assert not missing, "routes without a row in the access matrix: " + ", ".join(f"{m} /{p}" for m, p in missing)
    stale = sorted(rows - found)
    assert not stale, "rows for routes the resolver does not have: " + ", ".join(f"{m} /{p}" for m, p in stale)
    api = {(method, _as_schema_path(pattern)) for method, pattern in found if pattern.startswith("api/")}
    schema = schema_operations()
    assert not api - schema, f"API routes missing from the OpenAPI schema: {sorted(api - schema)}"
    assert not schema - api, f"schema operations with no route: {sorted(schema - api)}"
    assert len(set(PERSONAS)) == 8 and len(rows) == len(ROWS)


def test_a_method_a_route_does_not_take_answers_405(world):
    """GET on every route that does not take it: 405 for a signed-in admin."""
    admin_page, admin_api = client_for(world, "admin", api=False), client_for(world, "admin", api=True)
    taken: dict[str, set] = {}
    for row in ROWS:
        taken.setdefault(row.pattern, set()).add(row.method)
    for pattern, methods in taken.items():
        if "GET" in methods:
            continue
        row = next(r for r in ROWS if r.pattern == pattern)
        client = admin_api if row.api else admin_page
        response = client.get(row.url({**world, "challenger": world["production"], "queued_job": world["q_job"]}))
        assert response.status_code == 405, f"GET /{pattern}: {response.status_code}"



def test_a_page_answers_405_to_a_method_no_form_sends(world):
    """Pages take GET and POST only: PUT, PATCH and DELETE on any page are a 405 that writes nothing."""
    admin_page = client_for(world, "admin", api=False)
    before = fingerprint()
    wrong = []
    for pattern in sorted({row.pattern for row in ROWS if not row.api}):
        row = next(r for r in ROWS if r.pattern == pattern)
        url = row.url({**world, "challenger": world["production"], "queued_job": world["q_job"]})
        for method in ("PUT", "PATCH", "DELETE"):
            status = admin_page.generic(method, url).status_code
            if status != 405:
                wrong.append(f"{method} /{pattern}: {status}")
    assert wrong == [], "\n".join(wrong)
    assert fingerprint() == before


def test_pages_show_only_the_buttons_a_user_may_use(world):
    _submit_q_play1(world)
    page = f"/plays/{world['q_play1']}/"
    as_signoff = client_for(world, "so", api=False).get(page).content.decode()
    assert 'value="approve"' in as_signoff and 'value="reject"' in as_signoff
    assert "Submit for sign-off" not in as_signoff
    for persona in ("mo", "do", "duo"):
        html = client_for(world, persona, api=False).get(page).content.decode()
        assert 'value="approve"' not in html and 'value="reject"' not in html, persona
    project = f"/projects/{world['Q']}/"
    as_data = client_for(world, "do", api=False).get(project).content.decode()
    assert "Add member" not in as_data and "Solo mode" not in as_data
    assert "Add member" in client_for(world, "mo", api=False).get(project).content.decode()


def test_the_polled_job_fragment_is_the_partial_and_stops_polling_when_finished(world):
    client = client_for(world, "mo", api=False)
    response = client.get(f"/jobs/{world['q_job']}/progress/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286  # htmx stops polling on 286
    assert b"<html" not in response.content and b"Succeeded" in response.content
    assert "job-finished" in response["HX-Trigger"]
    gate = client.get(f"/plays/{world['q_play1']}/?partial=gate", HTTP_HX_REQUEST="true")
    assert gate.status_code == 200 and b"<html" not in gate.content and b'id="gate-panel"' in gate.content


def test_a_client_token_serves_only_its_own_deployment(world):
    """The client token of the production deployment, sent to another deployment of the same project:
    404 on each traffic endpoint, and nothing written."""
    other = _challenger(world).pk
    client = client_for(world, "client", api=True)
    bodies = {"predict": {"texts": ["I was charged twice"]},
              "predictions": {"predictions": [{"id": "r-9", "text": "hi", "label": "billing",
                                               "probabilities": PROBABILITIES}]},
              "feedback": {"feedback": [{"id": "r-1", "label": "billing"}]}}
    for endpoint, body in bodies.items():
        before, files, last = fingerprint(), files_under(world["data_dir"]), _last_event_id()
        response = client.post(f"/api/deployments/{other}/{endpoint}/", _json(body), content_type="application/json")
        assert response.status_code == 404, (endpoint, response.content)
        assert fingerprint() == before and files_under(world["data_dir"]) == files and _last_event_id() == last
