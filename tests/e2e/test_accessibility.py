"""Accessibility and small screens (issue 12): every page, as the role that uses it, has no serious or
critical axe-core violation, fits a 390 px wide phone screen, and works from the keyboard.

The state is built through the services, as the Play 6 browser test does: Plays 1-5 approved on a tiny
random BERT (Play 4 trained for real), Play 5's evaluation, its sign-off record and Play 6's package all
computed by the worker's code path in this process, a deployment promoted and fed traffic, and a label
audit handed to the sign-off owner. A second, untouched project shows Play 1 with its empty forms.
"""
import collections
import functools
import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.template.loader import render_to_string
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import reach_play5
from tests.unit.test_play6 import _approved, _package

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKING_IMPACTS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _context(browser: Browser, viewport: dict, csp_errors: list):
    """A fresh browser context whose pages report Content-Security-Policy refusals into ``csp_errors``."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda msg: csp_errors.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    return context, page


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My work", exact=True)).to_be_visible()


def _blocking_violations(axe: Axe, page: Page, label: str) -> list[dict]:
    results = axe.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        for node in violation["nodes"]:
            found.append({"page": label, "rule": violation["id"], "impact": violation["impact"],
                          "target": " ".join(str(t) for t in node["target"]), "help": violation["help"]})
    return found


def _build_state(team, sample_upload, monkeypatch, tmp_path) -> dict:
    from apps.datasets.curation import label_audit_start
    from apps.datasets.models import Dataset
    from apps.jobs.models import Job
    from apps.monitoring.models import Deployment
    from apps.monitoring.services import deployment_create, deployment_promote
    from apps.playbook.models import Play
    from apps.playbook.services import member_add, project_create
    from tests.helpers import prepare_audit, run_job

    state = reach_play5(team, sample_upload, monkeypatch, build_tiny_bert(tmp_path / "tiny", layers=2, seed=0))
    play6 = _approved(team, state)
    record_job = Job.objects.filter(kind="signoff_record").latest("created_at")
    assert run_job(record_job.pk).status == "succeeded"
    package = _package(play6)
    deployment = deployment_create(actor=team["mo"], package=package, reason="Approved at Play 5.")
    deployment_promote(actor=team["so"], deployment=deployment, reason="The evaluation supports it.")
    call_command("simulate_traffic", deployment=deployment.pk, rows=200, drift=True, run_checks=True, feedback=0.5)
    dataset = Dataset.objects.filter(project=team["project"]).latest("pk")
    audit = label_audit_start(actor=team["do"], dataset=dataset, size=10, auditor="so")
    assert prepare_audit(audit.pk) == "open"
    # The pages render with the real play modules again (reach_play5 stands in for Plays 2 and 3).
    monkeypatch.undo()
    untouched = project_create(actor=team["mo"], name="Churn signals", request="Spot customers about to leave.")
    member_add(actor=team["mo"], project=untouched, username="do", role="data_owner")
    plays = {number: Play.objects.get(cycle=state["cycle"], number=number) for number in range(1, 7)}
    return {"plays": plays, "deployment": Deployment.objects.get(pk=deployment.pk), "audit": audit,
            "untouched_play1": untouched.cycles.get().plays.get(number=1)}


def _pages(team, state) -> dict[str, list[tuple[str, str]]]:
    """Each person's pages: (label, path)."""
    from apps.evaluation.models import Evaluation

    plays, project = state["plays"], team["project"]
    evaluation = Evaluation.objects.filter(project=project).latest("pk")
    return {
        "": [("Sign in", "/accounts/login/"), ("404 page", "/no-such-page/")],
        "mo": [("My work (model owner)", "/"), ("Projects", "/projects/"), ("Project", f"/projects/{project.pk}/"),
               ("Play 1", f"/plays/{plays[1].pk}/"), ("Play 2", f"/plays/{plays[2].pk}/"),
               ("Play 4", f"/plays/{plays[4].pk}/"), ("Play 6", f"/plays/{plays[6].pk}/"),
               ("Play 1 (untouched project)", f"/plays/{state['untouched_play1'].pk}/"),
               ("API tokens", "/accounts/tokens/")],
        "do": [("My work (data owner)", "/"), ("Play 3", f"/plays/{plays[3].pk}/"), ("Inbox", "/inbox/"),
               ("Deployment monitoring", f"/deployments/{state['deployment'].pk}/monitoring/")],
        "so": [("My work (sign-off owner)", "/"), ("Play 5", f"/plays/{plays[5].pk}/"),
               ("Evaluation record", f"/evaluations/{evaluation.pk}/record.html"),
               ("Label audit", f"/audits/{state['audit'].pk}/")],
        "admin": [("My work (admin)", "/"), ("Audit trail", "/audit/"), ("Projects (admin)", "/projects/"),
                  ("Portfolio", "/portfolio/")],
    }


def _fulfill(route, *, html: str, status: int) -> None:
    route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")


def _error_pages(page: Page, base: str) -> list[tuple[str, str]]:
    """400, 403 and 500 as Django renders them, served at made-up paths of the live server (their style
    sheet and icon load from it as on a real error)."""
    pages = []
    for status, context in ((400, {}), (403, {"exception": "You cannot do this."}), (500, None)):
        html = render_to_string(f"{status}.html", context)
        path = f"/error-preview-{status}/"
        page.route(f"{base}{path}", functools.partial(_fulfill, html=html, status=status))
        pages.append((f"{status} page", path))
    return pages


def test_every_page_has_no_serious_axe_violation_and_fits_a_phone(team, sample_upload, monkeypatch, tmp_path,
                                                                  live_server, browser, artifacts_dir, settings):
    settings.PLAYBOOK_WINDOW_SIZE = 200
    base = live_server.url
    state = _build_state(team, sample_upload, monkeypatch, tmp_path)
    axe = Axe()
    violations, too_wide, csp_errors, visited = [], [], [], []
    screenshots = {"My work (model owner)", "Play 1 (untouched project)", "Play 5", "Audit trail",
                   "Deployment monitoring", "Project"}
    for user, pages in _pages(team, state).items():
        for viewport in (DESKTOP, PHONE):
            context, page = _context(browser, viewport, csp_errors)
            if user:
                _sign_in(page, base, user)
            for label, path in pages + ([] if user else _error_pages(page, base)):
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                if viewport is DESKTOP:
                    violations += _blocking_violations(axe, page, label)
                    visited.append(label)
                    continue
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > PHONE["width"]:
                    too_wide.append(f"{label} ({path}): {width} px")
                if label in screenshots:
                    name = label.lower().replace(" ", "-").replace("(", "").replace(")", "")
                    page.screenshot(path=str(artifacts_dir / f"phone-{name}.png"), full_page=True)
            context.close()

    assert len(visited) >= 24, visited  # every page above, each checked by axe and at 390 px
    by_rule = collections.Counter(f"{v['rule']} ({v['impact']})" for v in violations)
    (artifacts_dir / "accessibility.json").write_text(json.dumps(
        {"pages": visited, "violations_by_rule": by_rule, "violations": violations, "too_wide": too_wide}, indent=2))
    report = "\n".join(f"{v['page']}: {v['rule']} ({v['impact']}) at {v['target']} — {v['help']}" for v in violations)
    problems = ([f"{len(violations)} serious or critical axe violations ({dict(by_rule)}):\n{report}"] if violations else []) \
        + (["pages wider than a 390 px screen:\n" + "\n".join(too_wide)] if too_wide else []) \
        + (["Content-Security-Policy refusals:\n" + "\n".join(csp_errors)] if csp_errors else [])
    assert problems == [], "\n\n".join(problems)


def test_a_play_page_works_from_the_keyboard_with_a_visible_focus(team, live_server, browser):
    """From the top of Play 1, Tab reaches the skip link first (it jumps to the main content), then every
    control in order up to the main form's submit button; each focused control shows an outline."""
    base = live_server.url
    csp_errors: list = []
    context, page = _context(browser, DESKTOP, csp_errors)
    _sign_in(page, base, "mo")
    page.goto(f"{base}/plays/{team['play1'].pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Play 1")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    submit = page.locator("#workspace form").first.get_by_role("button", name="Save deliverable")
    reached, unfocused = False, []
    for _ in range(40):
        page.keyboard.press("Tab")
        focus = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, text: (e.textContent || e.name || "").trim().slice(0, 40),
                    outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2}; }""")
        if not focus["outline"]:
            unfocused.append(focus)
        if submit.evaluate("e => e === document.activeElement"):
            reached = True
            break
    assert reached, "Tab never reached the Play 1 form's submit button"
    assert unfocused == [], f"focused without a visible outline: {unfocused}"
    context.close()
    assert csp_errors == [], "\n".join(csp_errors)
