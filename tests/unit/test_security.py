"""Security: hashed API tokens (expiry, revocation), sign-in lockout, audited admin writes, production
settings, security headers and error pages."""
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def signed_in(username: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def with_token(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def actions(since: int = 0) -> list[str]:
    return list(AuditEvent.objects.filter(pk__gt=since).order_by("pk").values_list("action", flat=True))


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def people(make_user):
    return {"ann": make_user("ann"), "bob": make_user("bob"), "root": make_user("root", staff=True)}


# --- API tokens ----------------------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_as_a_digest_and_opens_the_api(people):
    made = signed_in("ann").post("/api/tokens/", {"name": "nightly export"}, content_type="application/json")
    assert made.status_code == 201
    key = made.json()["key"]
    token = ApiToken.objects.get(pk=made.json()["id"])
    assert key.startswith("pbt_") and token.prefix == key[:12]
    assert token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    # The key itself is in no column of the row.
    assert key not in repr(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.expires_at - token.created_at == timedelta(days=90)
    issued = AuditEvent.objects.get(action="auth.token_issued", object_id=str(token.pk))
    assert issued.actor == people["ann"] and key not in str(issued.after)

    listed = with_token(key).get("/api/tokens/")
    assert listed.status_code == 200 and [t["name"] for t in listed.json()] == ["nightly export"]
    assert "key" not in listed.json()[0]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_sign_in_endpoint_returns_a_working_hashed_token(people):
    response = Client().post("/api/auth/token/", {"username": "ann", "password": PASSWORD},
                             content_type="application/json")
    key = response.json()["token"]
    assert ApiToken.objects.filter(user=people["ann"], key_sha256=hashlib.sha256(key.encode()).hexdigest()).exists()
    assert with_token(key).get("/api/tokens/").status_code == 200


def test_a_revoked_token_is_refused_with_401_and_the_revocation_is_audited(people):
    from apps.accounts.services import token_issue

    issued = token_issue(user=people["ann"])
    ann = signed_in("ann")
    before = last_event_id()
    revoked = with_token(issued.key).delete(f"/api/tokens/{issued.token.pk}/")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "ann"
    assert actions(before) == ["auth.token_revoked"]

    refused = with_token(issued.key).get("/api/tokens/")
    assert refused.status_code == 401 and refused.json() == {"error": "This API token was revoked."}
    again = ann.delete(f"/api/tokens/{issued.token.pk}/")
    assert again.status_code == 409 and "already revoked" in again.json()["error"]
    assert actions(before) == ["auth.token_revoked"]


def test_an_expired_or_unknown_token_is_refused_with_401(people):
    from apps.accounts.services import token_issue

    issued = token_issue(user=people["ann"])
    # A token whose time ran out (moved into the past rather than waiting 90 days).
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = with_token(issued.key).get("/api/tokens/")
    assert expired.status_code == 401 and expired.json() == {"error": "This API token has expired."}
    unknown = with_token("pbt_" + "x" * 43).get("/api/tokens/")
    assert unknown.status_code == 401 and unknown.json() == {"error": "Invalid API token."}
    assert Client().get("/api/tokens/").status_code == 401


def test_owners_and_admins_list_and_revoke_tokens_others_get_404_and_change_nothing(people):
    from apps.accounts.services import token_issue

    ann = token_issue(user=people["ann"]).token
    bob = token_issue(user=people["bob"]).token
    assert [t["id"] for t in signed_in("bob").get("/api/tokens/").json()] == [bob.pk]
    assert {t["owner"] for t in signed_in("root").get("/api/tokens/").json()} == {"ann", "bob"}

    bob_client, admin = signed_in("bob"), signed_in("root")
    before = last_event_id()
    assert bob_client.get(f"/api/tokens/{ann.pk}/").status_code == 404
    assert bob_client.delete(f"/api/tokens/{ann.pk}/").status_code == 404
    assert actions(before) == [] and ApiToken.objects.get(pk=ann.pk).revoked_at is None

    by_admin = admin.delete(f"/api/tokens/{ann.pk}/")
    assert by_admin.status_code == 200 and by_admin.json()["revoked_by"] == "root"
    event = AuditEvent.objects.get(pk__gt=before)
    assert (event.action, event.actor, event.after["owner"]) == ("auth.token_revoked", people["root"], "ann")


def test_bad_token_requests_are_refused_with_a_message_and_write_nothing(people):
    client = signed_in("ann")
    before = last_event_id()
    for body in ({"name": ""}, {"name": "x" * 121}, {"name": "ok", "days": 0}, {"name": "ok", "days": 91}, {}):
        response = client.post("/api/tokens/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"], body
    assert not ApiToken.objects.exists() and actions(before) == []


def test_the_tokens_page_shows_a_new_key_once_and_revokes(people):
    client = signed_in("ann")
    assert 'href="/accounts/tokens/"' in client.get("/").content.decode()
    made = client.post("/accounts/tokens/new/", {"name": "laptop", "days": "7"})
    token = ApiToken.objects.get(user=people["ann"])
    key = re.search(r'id="token-key">([^<]+)<', made.content.decode()).group(1)
    assert token.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert made["Cache-Control"] == "no-store"
    assert key not in client.get("/accounts/tokens/").content.decode()
    refused = client.post("/accounts/tokens/new/", {"name": "", "days": "7"}, follow=True)
    assert "Name the token" in refused.content.decode() and ApiToken.objects.count() == 1

    assert signed_in("bob").post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert ApiToken.objects.get(pk=token.pk).revoked_by == people["ann"]
    assert with_token(key).get("/api/tokens/").status_code == 401


def test_drf_tokens_from_before_are_carried_over_hashed_and_the_old_table_dropped(people):
    import importlib

    from django.apps import apps as django_apps

    migration = importlib.import_module("apps.accounts.migrations.0002_api_tokens")
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz, "
                       "user_id integer NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old_key, people["bob"].pk])
    with connection.schema_editor() as editor:
        migration.carry_legacy_tokens(django_apps, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    carried = ApiToken.objects.get(user=people["bob"])
    assert carried.key_sha256 == hashlib.sha256(old_key.encode()).hexdigest() and carried.prefix == old_key[:8]
    assert with_token(old_key).get("/api/tokens/").status_code == 200


# --- sign-in lockout -----------------------------------------------------------------------------------


@pytest.fixture
def lockout_on(settings):
    settings.AXES_ENABLED = True
    return settings.PLAYBOOK_SIGNIN_FAILURE_LIMIT


def test_five_failed_sign_ins_lock_the_username_from_that_address_once_audited(people, lockout_on):
    client = Client(REMOTE_ADDR="10.0.0.7")
    before = last_event_id()
    statuses = [client.post("/accounts/login/", {"username": "ann", "password": "wrong"}).status_code
                for _ in range(lockout_on)]
    assert statuses == [200] * (lockout_on - 1) + [429]
    # Locked: even the right password is refused, with the styled page (not a traceback, not Django's text).
    page = client.post("/accounts/login/", {"username": "ann", "password": PASSWORD})
    assert page.status_code == 429 and 'id="locked-out"' in page.content.decode()
    assert "_auth_user_id" not in client.session
    locked = AuditEvent.objects.filter(pk__gt=before, action="auth.locked_out")
    assert [(e.after["username"], e.after["ip_address"]) for e in locked] == [("ann", "10.0.0.7")]
    # The API sign-in answers 429 {error} for the same pair, and issues nothing.
    api = Client(REMOTE_ADDR="10.0.0.7").post("/api/auth/token/", {"username": "ann", "password": PASSWORD},
                                              content_type="application/json")
    assert api.status_code == 429 and "locked out" in api.json()["error"] and not ApiToken.objects.exists()
    # The lock is per username and address: another address, or another username, signs in.
    assert Client(REMOTE_ADDR="10.0.0.8").post("/accounts/login/", {"username": "ann", "password": PASSWORD}).status_code == 302
    assert client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}).status_code == 302
    assert AuditEvent.objects.filter(pk__gt=before, action="auth.locked_out").count() == 1


def test_api_sign_in_failures_lock_out_with_429_error(people, lockout_on):
    client = Client(REMOTE_ADDR="10.0.0.9")
    responses = [client.post("/api/auth/token/", {"username": "bob", "password": "no"}, content_type="application/json")
                 for _ in range(lockout_on + 1)]
    assert [r.status_code for r in responses] == [400] * (lockout_on - 1) + [429, 429]
    assert set(responses[-1].json()) == {"error"}
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 1


def test_an_admin_sees_a_lockout_and_lifts_it_audited(people, lockout_on):
    from axes.models import AccessAttempt

    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(lockout_on):
        client.post("/accounts/login/", {"username": "ann", "password": "wrong"})
    attempt = AccessAttempt.objects.get(username="ann")
    admin = signed_in("root")
    listing = admin.get("/admin/axes/accessattempt/").content.decode()
    assert "ann" in listing and "10.0.0.7" in listing
    # Someone not staff cannot reach it.
    assert signed_in("bob").get("/admin/axes/accessattempt/").status_code == 302
    before = last_event_id()
    admin.post("/admin/axes/accessattempt/", {"action": "lift", "_selected_action": [attempt.pk]})
    assert not AccessAttempt.objects.exists()
    lifted = AuditEvent.objects.get(pk__gt=before, action="auth.lockout_lifted")
    assert lifted.actor == people["root"] and lifted.after["username"] == "ann"
    assert client.post("/accounts/login/", {"username": "ann", "password": PASSWORD}).status_code == 302


# --- admin writes --------------------------------------------------------------------------------------


def test_an_admin_password_change_is_audited_and_revokes_the_users_tokens(people):
    from apps.accounts.services import token_issue

    old = token_issue(user=people["ann"])
    admin = signed_in("root")
    before = last_event_id()
    response = admin.post(f"/admin/auth/user/{people['ann'].pk}/password/", {
        "password1": "a-new-long-passphrase", "password2": "a-new-long-passphrase", "set_usable_password": "true"})
    assert response.status_code == 302
    assert actions(before) == ["auth.token_revoked", "user.password_changed"]
    changed = AuditEvent.objects.get(pk__gt=before, action="user.password_changed")
    assert changed.actor == people["root"] and changed.after == {"usable": True, "tokens_revoked": 1}
    assert "a-new-long-passphrase" not in str(changed.after)
    assert with_token(old.key).get("/api/tokens/").status_code == 401
    assert Client().login(username="ann", password="a-new-long-passphrase")


def test_admin_user_and_group_edits_are_audited(people):
    from django.contrib.auth.models import Group, Permission

    admin = signed_in("root")
    before = last_event_id()
    added = admin.post("/admin/auth/group/add/", {
        "name": "reviewers", "permissions": [Permission.objects.get(codename="view_apitoken").pk]})
    assert added.status_code == 302
    group = Group.objects.get(name="reviewers")
    ann = people["ann"]
    changed = admin.post(f"/admin/auth/user/{ann.pk}/change/", {
        "username": "ann", "email": "ann@example.org", "is_active": "on", "groups": [group.pk],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00"})
    assert changed.status_code == 302, changed.content.decode()[:2000]
    deleted = admin.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and not Group.objects.exists()
    assert actions(before) == ["group.created", "user.changed", "user.groups_changed", "group.deleted"]
    events = {e.action: e for e in AuditEvent.objects.filter(pk__gt=before)}
    assert events["group.created"].after == {"name": "reviewers", "permissions": ["view_apitoken"]}
    assert events["user.groups_changed"].before["groups"] == [] and events["user.groups_changed"].after["groups"] == ["reviewers"]
    assert events["group.deleted"].before == {"name": "reviewers", "members": ["ann"]}
    assert all(e.actor == people["root"] for e in events.values())


def test_models_without_a_service_path_are_read_only_in_admin(people):
    from django.contrib import admin as django_admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = people["root"]
    editable = []
    for model, model_admin in django_admin.site._registry.items():
        label = model._meta.label
        if label in {"auth.User", "auth.Group", "playbook.Project"}:
            continue  # saved through services (the project admin only runs audited actions)
        if model_admin.has_add_permission(request) or model_admin.has_change_permission(request) \
                or model_admin.has_delete_permission(request):
            editable.append(label)
    assert editable == []


# --- production settings, headers, error pages ---------------------------------------------------------


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "k" * 20 + hashlib.sha256(b"deploy").hexdigest(),
           "PLAYBOOK_TLS": "1", "ALLOWED_HOSTS": "playbook.example.org", "PLAYBOOK_DATA_DIR": str(tmp_path),
           "PLAYBOOK_NO_BOOTSTRAP": "1"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_pages_carry_a_strict_content_security_policy_and_the_other_headers(people):
    response = signed_in("ann").get("/accounts/tokens/")
    csp = dict(part.split(" ", 1) for part in response["Content-Security-Policy"].split("; "))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    # htmx: no eval, no injected style element, and a swap copies no style attribute (an inline style).
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", response.content.decode())
    assert json.loads(config.group(1)) == {"allowEval": False, "includeIndicatorStyles": False,
                                           "attributesToSettle": ["class"]}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\s(on[a-z]+|style|hx-on[:a-z-]*)\s*=", re.I)


def test_no_template_has_an_inline_script_handler_or_style():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
        found += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}" for m in INLINE_HANDLER.finditer(text)]
    assert found == []


def test_errors_get_styled_pages_and_never_a_traceback_with_debug_off(people, settings):
    settings.DEBUG = False
    client = signed_in("ann")
    missing = client.get("/projects/999999/")
    assert missing.status_code == 404 and "Back to my work" in missing.content.decode()
    forbidden = signed_in("ann").get("/audit/")
    assert forbidden.status_code == 403 and "Not allowed" in forbidden.content.decode()
    settings.ALLOWED_HOSTS = ["playbook.example.org"]
    bad_host = Client().get("/", HTTP_HOST="evil.example.com")
    assert bad_host.status_code == 400 and 'id="bad-request"' in bad_host.content.decode()


def test_a_crash_gets_the_styled_500_page_without_a_traceback(people, settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.unit.crash_urls"
    response = Client(raise_request_exception=False).get("/crash/")
    body = response.content.decode()
    assert response.status_code == 500 and 'id="server-error"' in body
    assert "Traceback" not in body and "deliberate" not in body
    api = Client(raise_request_exception=False).get("/api/crash/")
    assert api.status_code == 500 and set(api.json()) == {"error"} and "deliberate" not in api.content.decode()


def test_an_unknown_api_route_answers_404_error_and_a_page_the_styled_404(people, settings):
    settings.DEBUG = False
    api = signed_in("ann").get("/api/no-such-route/")
    assert api.status_code == 404 and api.json() == {"error": "No API route matches this path."}
    page = signed_in("ann").get("/no-such-page/")
    assert page.status_code == 404 and "Back to my work" in page.content.decode()


def test_a_form_without_csrf_token_gets_the_styled_403(people):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="ann", password=PASSWORD)
    response = client.post("/accounts/tokens/new/", {"name": "x"})
    assert response.status_code == 403 and "expired or came from another site" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_api_docs_load_their_script_from_a_file_under_the_policy(people):
    client = signed_in("ann")
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200 and INLINE_SCRIPT.search(html) is None
    csp = dict(part.split(" ", 1) for part in response["Content-Security-Policy"].split("; "))
    # Only Swagger UI's inline <style> is allowed, on this page alone; scripts stay 'self'.
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self' 'unsafe-inline'"
    script = re.search(r'<script src="(/api/docs/\?[^"]*script=?)"', html).group(1)
    assert client.get(script).status_code == 200


def test_the_token_routes_refuse_anonymous_callers_and_wrong_methods(people):
    anonymous = Client()
    assert anonymous.get("/accounts/tokens/")["Location"].startswith("/accounts/login/")
    assert anonymous.post("/accounts/tokens/new/", {"name": "x"})["Location"].startswith("/accounts/login/")
    unauthorised = anonymous.post("/api/tokens/", {"name": "x"}, content_type="application/json")
    assert unauthorised.status_code == 401 and unauthorised["WWW-Authenticate"] == "Token"
    ann = signed_in("ann")
    assert ann.get("/accounts/tokens/new/").status_code == 405
    assert ann.get("/accounts/tokens/1/revoke/").status_code == 405
    assert ann.put("/api/tokens/", {}, content_type="application/json").status_code == 405
    assert not ApiToken.objects.exists()


def test_passwords_are_stored_as_argon2id_and_older_hashes_are_upgraded_at_sign_in(settings, team):
    """The production hasher list: new passwords as Argon2id (19 MiB, 2 passes, 1 lane); a PBKDF2 hash still
    signs its owner in through the page, and is rewritten as Argon2id then."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from config import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    user = get_user_model().objects.get(username="mo")
    user.set_password(PASSWORD)
    user.save()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save()
    client = Client()
    response = client.post("/accounts/login/", {"username": "mo", "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password(PASSWORD) and not user.check_password(PASSWORD + "x")
