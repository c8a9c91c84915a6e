"""Play 1 end to end in a real browser: the model owner scopes the problem, uploads the labelled sample and
runs the baseline job (computed by a real Celery worker, progress polled by HTMX); the sign-off owner then
approves the gate and Play 2 unlocks.

Every wait is on a visible state of the page; the database is only read at the end, to confirm.
"""
import csv
import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The worker may have to start up, load scikit-learn and cross-validate on a 2-core machine.
JOB_TIMEOUT_MS = 180_000
PROBLEM_STATEMENT = (
    "Route each incoming support ticket to the right queue (billing, access, bug, ...) so that agents "
    "stop re-triaging tickets by hand; the router must beat the keyword rules we use today."
)


def _write_sample_csv(path) -> int:
    from demo.generate import generate

    sample, _production = generate(seed=3, rows=300, production_rows=10)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(sample)
    return len(sample)


def _sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    # LOGIN_REDIRECT_URL is My work; the top bar names who is signed in.
    expect(page.get_by_role("heading", name="My work", exact=True)).to_be_visible()
    expect(page.locator(".topbar .who")).to_have_text(username)


def _sign_out(page: Page) -> None:
    page.locator(".topbar").get_by_role("button", name="Sign out").click()
    # Django's LogoutView renders (or redirects to) a page without the signed-in top bar.
    expect(page.locator(".topbar .who")).to_have_count(0)


def _section(page: Page, heading: str):
    return page.locator("section.card").filter(has=page.get_by_role("heading", name=heading, exact=True))


def test_play1_scope_baseline_and_gate_approval_in_the_browser(
    team, live_server, celery_worker_process, page: Page, tmp_path, artifacts_dir
):
    from apps.audit.models import AuditEvent
    from apps.playbook.models import Play
    from apps.jobs.models import Job

    base = live_server.url
    project, play1 = team["project"], team["play1"]
    play1_link_name = f"{project.name} — Play 1: Scope and baseline"
    csv_path = tmp_path / "support_tickets_sample.csv"
    rows = _write_sample_csv(csv_path)

    # --- The model owner signs in and goes from My work to Play 1. ------------------------------------
    _sign_in(page, base, "mo")
    page.locator(".topbar").get_by_role("link", name="My work").click()
    assigned = _section(page, "Plays assigned to me")
    assigned.get_by_role("link", name=play1_link_name).click()
    expect(page).to_have_url(re.compile(rf"/plays/{play1.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Play 1: Scope and baseline")

    # --- The deliverable: problem statement and the committed target. ----------------------------------
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("Problem statement").fill(PROBLEM_STATEMENT)
    deliverable.get_by_label("Target metric").select_option("macro_f1")
    deliverable.get_by_label("Direction").select_option("higher")
    deliverable.get_by_label("Target threshold").fill("0.99")
    deliverable.get_by_label("Minimum worthwhile margin over baseline").fill("0.02")
    deliverable.get_by_role("button", name="Save deliverable").click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    expect(page.locator("#play-status")).to_have_text("In progress")
    gate = page.locator("#gate-panel")
    expect(gate.locator(".checks li.pass", has_text="Problem statement written")).to_be_visible()
    expect(gate.locator(".checks li.pass", has_text="Target metric, direction")).to_contain_text("macro_f1 ≥ 0.99")
    expect(gate.locator(".checks li.fail", has_text="Baseline measured")).to_be_visible()
    expect(gate.get_by_role("button", name="Submit for sign-off")).to_be_disabled()

    # --- The labelled sample; the first upload becomes the baseline dataset. ---------------------------
    data = page.locator("#data")
    data.get_by_label("labelled file").set_input_files(str(csv_path))
    data.get_by_label("dataset name").fill("Support tickets sample")
    data.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text(f"Uploaded “Support tickets sample”: {rows} rows")
    expect(page.locator("#deliverable select[name=baseline_dataset] option:checked")).to_contain_text(
        f"Support tickets sample ({rows} rows)")

    # --- The baseline job: queued here, computed by the worker, progress polled by HTMX. ---------------
    progress_statuses: list[int] = []
    page.on("response", lambda r: progress_statuses.append(r.status) if "/progress/" in r.url else None)
    data.get_by_label("folds").fill("3")
    data.get_by_role("button", name="Run baseline job").click()
    # No "queued" line at the top, which would stay after the job finished: the job's own panel says it.
    expect(page.locator("div.job[id^='job-']")).to_be_visible()
    assert page.locator(".messages").count() == 0
    job_id = int(page.locator("div.job[id^='job-']").get_attribute("id").removeprefix("job-"))
    job_box = page.locator(f"#job-{job_id}")
    expect(job_box).to_be_visible()
    first_status = job_box.get_attribute("data-status")
    # A marker on the window proves later that the page was updated in place, not reloaded.
    page.evaluate("window.__e2eNoReload = true")

    expect(job_box.locator(".status")).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    expect(job_box).to_have_attribute("data-status", "succeeded")
    expect(job_box).not_to_have_attribute("hx-get", re.compile(".*"))  # the finished fragment polls no more
    # The job-finished event makes the gate panel fetch itself again: the measured baseline appears.
    expect(gate.locator("#baseline-table")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(gate.locator("#baseline-table tbody tr")).not_to_have_count(0)
    expect(gate.locator("#meets-target")).to_have_text("The best baseline falls short of the target.")
    expect(gate.locator(".checks li.pass", has_text="Baseline measured")).to_contain_text(f"(job #{job_id})")
    expect(gate.locator(".checks li", has_text="Does the baseline already meet the target?")).to_contain_text(
        "No — adaptation is warranted (Play 2).")
    submit = gate.get_by_role("button", name="Submit for sign-off")
    expect(submit).to_be_enabled()
    assert page.evaluate("window.__e2eNoReload === true"), "the page reloaded instead of updating in place"
    print(f"job #{job_id}: rendered first as {first_status!r}; progress responses {progress_statuses}")
    if first_status in ("queued", "running"):
        # The page rendered the unfinished job, so the fragment must have polled and been stopped (286).
        assert 286 in progress_statuses, f"no 286 stop-polling response seen: {progress_statuses}"

    # --- Submit for sign-off. --------------------------------------------------------------------------
    submit.click()
    expect(page.locator(".messages")).to_contain_text("Play 1 submitted")
    expect(page.locator("#play-status")).to_have_text("Submitted")
    expect(page.locator("#gate-panel")).to_contain_text("Submitted by mo")
    # The submitter sees no decision buttons on her own gate.
    expect(page.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    _sign_out(page)

    # --- The sign-off owner finds the gate on My work and approves it. ---------------------------------
    _sign_in(page, base, "so")
    gates = _section(page, "Gates waiting for my decision")
    expect(gates).to_contain_text("submitted by mo")
    gates.get_by_role("link", name=play1_link_name).click()
    expect(page).to_have_url(re.compile(rf"/plays/{play1.pk}/$"))
    expect(page.locator("#play-status")).to_have_text("Submitted")
    gate = page.locator("#gate-panel")
    expect(gate.locator("#baseline-table")).to_be_visible()
    expect(gate.locator("#meets-target")).to_have_text("The best baseline falls short of the target.")
    approve = gate.get_by_role("button", name="Approve: baseline insufficient — proceed to Play 2")
    expect(approve).to_be_enabled()
    # Shipping the baseline is not offered: it falls short of the target.
    expect(gate.get_by_role("button", name="Ship the baseline and close the project")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "play1-gate.png"), full_page=True)

    approve.click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Play 1 approved.")
    plays = page.locator("#plays")
    expect(plays.locator("tr[data-play='1'] .status")).to_have_text("Approved")
    expect(plays.locator("tr[data-play='2'] .status")).to_have_text("Ready")
    expect(plays.locator("tr[data-play='2']")).to_contain_text("current step")
    expect(plays.locator("tr[data-play='3'] .status")).to_have_text("Locked")
    page.screenshot(path=str(artifacts_dir / "play1-approved.png"), full_page=True)

    # --- The database agrees, and the decision is in the audit trail. ----------------------------------
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.SUCCEEDED and job.params.get("folds") == 3
    play1.refresh_from_db()
    assert play1.status == Play.Status.APPROVED
    play2 = Play.objects.get(cycle=play1.cycle, number=2)
    assert play2.status == Play.Status.READY
    assert play2.assignee.username == "mo"
    assert AuditEvent.objects.filter(project=project, action="gate.approve", actor__username="so",
                                     actor_label="so", object_id=str(play1.pk)).exists()
