"""The demo tour: the demo's four users take "Support ticket routing" through all six plays and one retrain
loop in a real browser, every job computed by a real Celery worker process. Screenshots of each major step
land in test-artifacts/tour-NN-*.png.

  Play 1 (model.owner): problem statement, metric and target, the baseline job on the demo's labelled
    sample, submit; signoff.owner approves.
  Play 2 (model.owner): shortlist the two demo candidates, bake-off, choose the derived 3-layer MiniLM (about
    twice as fast on CPU), submit; signoff.owner approves.
  Play 3 (data.owner): choose the labelled sample, seal it, hand a label audit to signoff.owner (who relabels
    it blind with the number keys), settle the disagreements, compare the demo's production sample, write
    the notes, submit; signoff.owner approves.
  Play 4 (model.owner): a fresh head on the frozen base, choose its checkpoint, submit; signoff.owner approves.
  Play 5 (signoff.owner, who neither trained the candidate nor submitted Play 4): the evaluation starts by
    itself; read the report, answer the three questions, approve.
  Play 6: the package job starts by itself; model.owner deploys it as the challenger, signoff.owner promotes
    it, model.owner sets the floor and the monitoring note. Production traffic (a stream like the approved
    data, then a drifted one, with feedback) trips the live-metric floor: the system opens cycle 2, and
    data.owner finds it from the monitoring page.
  Cycle 2: data.owner adds the labelled production data as a new dataset version and seals it (earlier rows
    keep their splits, the old test set becomes the golden split); Play 3 gate again; model.owner retrains
    from the production checkpoint; signoff.owner reads the report (the challenger against production on the
    recent slice and on the golden set) and approves, which deploys the challenger as production; then
    signoff.owner rolls back and the first deployment serves again.
  Finally admin reads the loop in the audit trail, and data.owner's inbox holds the cycle that opened.

Every wait is on a visible state of the page; the database is only read at the end, to confirm.
"""
import re
import time

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.e2e.test_cycle_browser import _approve_from_my_work, _queued_job_id
from tests.e2e.test_play1_browser import _section, _sign_in, _sign_out
from tests.e2e.test_play5_browser import _decide

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Jobs queue behind each other on one solo worker on a busy 2-core machine: waits are generous.
JOB_TIMEOUT_MS = 300_000
PROJECT = "Support ticket routing"
L6, L3 = "all-MiniLM-L6-v2", "all-MiniLM-L3 (derived)"
PROBLEM = ("Route each incoming help-desk ticket to the right queue automatically, so that agents stop "
           "triaging by hand and fewer tickets land in the wrong queue first.")
RATIONALE = ("The derived three-layer MiniLM answers about twice as fast on our CPU servers; the bake-off "
             "shows what it costs in macro-F1, and the licence (Apache-2.0) permits our use.")
BALANCE_NOTE = "Seven classes, the largest about twice the smallest; stratified splits keep every class in each split."
REPRESENTATIVENESS_NOTE = ("Production is chat-style and shorter than the e-mail sample; the comparison shows the "
                           "gap, Play 5 re-checks it and the monitor watches drift.")
KEEP_NOTE = "Kept in this sealed version; the fix goes into the next labelled version"
ANSWERS = {
    "beat_baseline": "The report gives the delta over the strongest baseline with its interval; we weigh it "
                     "against the margin from Play 1.",
    "failures_acceptable": "Failures concentrate in the weakest classes named above; misrouted tickets are "
                           "re-queued by agents, so they are acceptable for a first release.",
    "holds_on_production": "The production sample is measured in the report; the monitor watches live "
                           "traffic and opens a retrain when it slips.",
}
FLOOR = "0.75"
MONITORING_NOTE = ("data.owner is alerted on drift and adds labelled production data; a live macro-F1 under the "
                   "floor opens a retrain cycle for model.owner.")


def _shot(page: Page, artifacts_dir, number: int, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"tour-{number:02d}-{name}.png"), full_page=True)


def _select_containing(select, text: str) -> None:
    """Pick the option whose text contains ``text`` (options also carry ids and row counts)."""
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def _open_play(page: Page, number: int, title: str) -> None:
    _section(page, "Plays assigned to me").get_by_role("link", name=f"{PROJECT} — Play {number}: {title}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Play {number}: {title}")


def _job_succeeds(page: Page, job_id: int, timeout: int = JOB_TIMEOUT_MS) -> None:
    expect(page.locator(f"#job-{job_id} .status")).to_have_text("Succeeded", timeout=timeout)


def _reload_until(page: Page, locator, *, text: str | None = None, timeout_s: float = 240) -> None:
    """For pages that do not poll (the monitoring page, a deployment list): reload until the state shows."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if text is None:
                expect(locator).to_be_visible(timeout=3_000)
            else:
                expect(locator).to_contain_text(text, timeout=3_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def _choose_checkpoint(page: Page, job_id: int) -> None:
    """On Play 4's page: pick the finished run's checkpoint as the deliverable."""
    runs = page.locator("#runs")
    expect(runs.locator("tbody tr", has_text=f"#{job_id}")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    runs.get_by_label(f"submit job {job_id}").check()
    runs.get_by_role("button", name="Choose this checkpoint").click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")


def _submit(page: Page, number: int) -> None:
    gate = page.locator("#gate-panel")
    expect(gate.locator(".checks li.fail:not(.info)")).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    gate.get_by_role("button", name="Submit for sign-off").click()
    expect(page.locator(".messages")).to_contain_text(f"Play {number} submitted")
    expect(page.locator("#play-status")).to_have_text("Submitted")


def _audit_answers(page: Page, intended: dict, size: int) -> int:
    """The auditor relabels blind with the number keys, giving the label each ticket was written for (the
    demo generator knows it); returns how many answers differ from nothing (all of them are given)."""
    for answered in range(1, size + 1):
        text = " ".join(page.locator("#audit-text").inner_text().split())
        choices = [c.split(". ", 1)[1] for c in page.locator(".label-choice").all_inner_texts()]
        label = intended.get(text)
        key = choices.index(label) + 1 if label in choices else 1
        page.keyboard.press(str(key))
        expect(page.locator("#audit-item p.muted")).to_have_text(f"{answered} of {size} done")
    expect(page.locator("#audit-done")).to_be_visible()
    return size


def _keep_disagreements(page: Page) -> int:
    audit_box = page.locator("#audit")
    keep_forms = audit_box.locator("form").filter(has=page.get_by_role("button", name="Keep"))
    disagreements = keep_forms.count()
    for left in range(disagreements, 0, -1):
        form = keep_forms.first
        form.get_by_label("note").fill(KEEP_NOTE)
        form.get_by_role("button", name="Keep").click()
        expect(keep_forms).to_have_count(left - 1)
    return disagreements


def _compare_production(page: Page, path) -> None:
    balance = page.locator("#balance")
    balance.get_by_label("production sample").set_input_files(str(path))
    balance.get_by_role("button", name="Upload a production sample and compare").click()
    expect(page.locator(".messages")).to_contain_text("Production sample stored")
    expect(page.locator("#balance")).to_contain_text("production rows", timeout=JOB_TIMEOUT_MS)


def _write_notes(page: Page) -> None:
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("How class imbalance is handled").fill(BALANCE_NOTE)
    deliverable.get_by_label("Is the test set representative of production?").fill(REPRESENTATIVENESS_NOTE)
    deliverable.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")


def _answer_the_questions(page: Page) -> None:
    questions = page.locator("#questions")
    for key, answer in ANSWERS.items():
        questions.locator(f"#answer-{key}").fill(answer)
    questions.get_by_role("button", name=re.compile("Save the answers")).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")


def test_the_demo_tour_six_plays_and_a_retrain_loop(live_server, celery_worker_process, page: Page, settings,
                                                    artifacts_dir):
    from apps.ops.management.commands.seed_demo import demo_password
    from demo.generate import generate

    settings.PLAYBOOK_WINDOW_SIZE = 200  # the policy's minimum window: 200 predictions close one
    call_command("seed_demo")
    from apps.audit.models import AuditEvent
    from apps.monitoring.models import Deployment
    from apps.playbook.models import Cycle, Play, Project

    password = demo_password()
    base = live_server.url
    project = Project.objects.get(name=PROJECT)
    demo_dir = settings.DATA_DIR / "demo"
    production_csv = demo_dir / "production_sample.csv"
    # The label each demo ticket was written for (the export carries ~2% slips): what a careful auditor gives.
    intended = {" ".join(r["text"].split()): r["label"] for r in generate(seed=7, clean_labels=True)[0]}
    started = time.monotonic()

    def sign_in(username: str) -> None:
        _sign_in(page, base, username, password)

    def approve(link: str, number: int, shot: tuple[int, str] | None = None) -> None:
        play = Play.objects.get(cycle=project.cycles.order_by("-number").first(), number=number)
        _approve_from_my_work(page, base, "signoff.owner", f"{PROJECT} — {link}", play.pk, number,
                              artifacts_dir=artifacts_dir, shot=f"tour-{shot[0]:02d}-{shot[1]}.png" if shot else None,
                              password=password)

    # ======================================================================================================
    # Play 1 — model.owner scopes the problem and measures the baselines.
    # ======================================================================================================
    sign_in("model.owner")
    _open_play(page, 1, "Scope and baseline")
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("Problem statement").fill(PROBLEM)
    deliverable.get_by_label("Target metric").select_option("macro_f1")
    deliverable.get_by_label("Direction").select_option("higher")
    deliverable.get_by_label("Target threshold").fill("0.9")
    deliverable.get_by_label("Minimum worthwhile margin over baseline").fill("0.02")
    _select_containing(deliverable.get_by_label("Baseline dataset"), "Support tickets (labelled sample)")
    deliverable.get_by_role("button", name="Save deliverable").click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    data = page.locator("#data")
    data.get_by_label("folds").fill("3")
    data.get_by_role("button", name="Run baseline job").click()
    _job_succeeds(page, _queued_job_id(page))
    gate = page.locator("#gate-panel")
    expect(gate.locator("#baseline-table tbody tr")).not_to_have_count(0, timeout=JOB_TIMEOUT_MS)
    expect(gate.locator("#meets-target")).to_have_text("The best baseline falls short of the target.")
    _shot(page, artifacts_dir, 1, "play1-baseline")
    _submit(page, 1)
    _sign_out(page)
    sign_in("signoff.owner")
    gates = _section(page, "Gates waiting for my decision")
    gates.get_by_role("link", name=f"{PROJECT} — Play 1: Scope and baseline").click()
    page.locator("#gate-panel").get_by_role("button", name="Approve: baseline insufficient — proceed to Play 2").click()
    expect(page.locator(".messages")).to_contain_text("Play 1 approved.")
    expect(page.locator("#plays tr[data-play='2'] .status")).to_have_text("Ready")
    _shot(page, artifacts_dir, 2, "play1-approved")
    _sign_out(page)

    # ======================================================================================================
    # Play 2 — model.owner shortlists the demo's two encoders, bakes them off and chooses the faster one.
    # ======================================================================================================
    sign_in("model.owner")
    _open_play(page, 2, "Choose base model")
    deliverable = page.locator("#deliverable")
    deliverable.get_by_role("checkbox", name=L6).check()
    deliverable.get_by_role("checkbox", name=L3).check()
    deliverable.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("folds").fill("3")
    deliverable.get_by_role("button", name="Run bake-off on the shortlist").click()
    _job_succeeds(page, _queued_job_id(page))
    scorecard = page.locator("#scorecard")
    expect(scorecard.locator("tbody tr")).to_have_count(2, timeout=JOB_TIMEOUT_MS)
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("Chosen candidate").select_option(label=L3)
    deliverable.get_by_label("Rationale").fill(RATIONALE)
    deliverable.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    _shot(page, artifacts_dir, 3, "play2-bakeoff")
    _submit(page, 2)
    _sign_out(page)
    approve("Play 2: Choose base model", 2)

    # ======================================================================================================
    # Play 3 — data.owner seals the labelled sample, has it audited, compares production, writes the notes.
    # ======================================================================================================
    sign_in("data.owner")
    _open_play(page, 3, "Build data pipeline")
    deliverable = page.locator("#deliverable")
    _select_containing(deliverable.get_by_label("Dataset version"), "Support tickets (labelled sample)")
    deliverable.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    page.locator("#splits").get_by_role("button", name="Seal splits").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Sealing the splits \(job #\d+"))
    expect(page.locator("#splits tbody tr")).to_have_count(3, timeout=JOB_TIMEOUT_MS)
    audit_box = page.locator("#audit")
    audit_box.get_by_label("Sample size").fill("10")
    audit_box.get_by_label("Auditor").select_option("signoff.owner")
    audit_box.get_by_role("button", name="Start a label audit").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Audit #\d+ of 10 items handed to signoff.owner"))
    expect(page.locator("#audit-preparing")).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#audit")).to_contain_text("0 of 10 answered")
    _sign_out(page)

    sign_in("signoff.owner")
    _section(page, "Plays assigned to me").get_by_role("link", name=re.compile(rf"{PROJECT} — label audit #\d+")).click()
    expect(page.get_by_role("heading", name="Relabel blind")).to_be_visible()
    _shot(page, artifacts_dir, 4, "play3-audit")
    _audit_answers(page, intended, 10)
    _sign_out(page)

    sign_in("data.owner")
    _open_play(page, 3, "Build data pipeline")
    expect(page.locator("#audit")).to_contain_text("10 of 10 answered")
    _keep_disagreements(page)
    _compare_production(page, production_csv)
    _write_notes(page)
    _shot(page, artifacts_dir, 5, "play3-gate")
    _submit(page, 3)
    _sign_out(page)
    approve("Play 3: Build data pipeline", 3)

    # ======================================================================================================
    # Play 4 — model.owner trains a fresh head on the frozen base and submits its checkpoint.
    # ======================================================================================================
    sign_in("model.owner")
    _open_play(page, 4, "Freeze then unfreeze")
    expect(page.locator("#inputs")).to_contain_text(f"Base model: {L3}")
    frozen_form = page.locator("#inputs form").filter(has=page.locator("input[name=kind][value=frozen_head]"))
    frozen_form.get_by_role("button", name="Train the frozen-base head").click()
    frozen_id = _queued_job_id(page)
    _job_succeeds(page, frozen_id)
    _choose_checkpoint(page, frozen_id)
    _shot(page, artifacts_dir, 6, "play4-frozen-head")
    _submit(page, 4)
    _sign_out(page)
    approve("Play 4: Freeze then unfreeze", 4)

    # ======================================================================================================
    # Play 5 — signoff.owner (who neither trained the candidate nor submitted Play 4) reads and decides.
    # ======================================================================================================
    sign_in("signoff.owner")
    _open_play(page, 5, "Evaluate vs baseline")
    expect(page.locator("#evaluation")).to_contain_text("test rows", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#evaluation")).to_contain_text("models scored on the same rows")
    _answer_the_questions(page)
    _shot(page, artifacts_dir, 7, "play5-report")
    _submit(page, 5)
    _decide(page, "Approve the candidate (it goes to Play 6)", "The evidence supports routing with it.",
            "Play 5 approved.")
    expect(page.locator("#plays tr[data-play='6'] .status")).to_have_text("Ready")
    _sign_out(page)

    # ======================================================================================================
    # Play 6 — the system packages; model.owner deploys; signoff.owner promotes; the owners set the floor.
    # ======================================================================================================
    sign_in("model.owner")
    page.locator(".topbar").get_by_role("link", name="My work").click()
    _open_play(page, 6, "Package and monitor")
    package = page.locator("#package")
    expect(package.get_by_role("button", name="Deploy as the challenger")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#parity")).to_contain_text("fp32")
    # The gate judges one package: the owner chooses the one the system built.
    package.get_by_role("button", name=re.compile(r"^Use package #\d+$")).click()
    expect(page.locator("#judged-package")).to_contain_text("The gate judges")
    package = page.locator("#package")
    package.get_by_label("Why deploy it").fill("Approved at Play 5 by signoff.owner.")
    package.get_by_role("button", name="Deploy as the challenger").click()
    expect(page.locator(".messages")).to_contain_text("deployed as the challenger")
    thresholds = page.locator("#thresholds")
    thresholds.get_by_label("Live-metric floor").fill(FLOOR)
    thresholds.get_by_label("Monitoring note").fill(MONITORING_NOTE)
    thresholds.get_by_role("button", name="Save the floor and the note").click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    drift_form = page.locator("#thresholds-form")
    drift_form.get_by_label("Input text drift (domain-classifier AUC)").fill("0.7")
    drift_form.get_by_role("button", name="Save the thresholds and the alert policy").click()
    expect(page.locator(".messages")).to_contain_text("Drift thresholds and alert policy saved")
    _shot(page, artifacts_dir, 8, "play6-deployed")
    _sign_out(page)

    sign_in("signoff.owner")
    page.goto(f"{base}/projects/{project.pk}/")
    page.locator("#plays tr[data-play='6']").get_by_role("link").click()
    deployments = page.locator("#deployments")
    deployments.get_by_label("Reason").fill("Play 5's evaluation supports it; the package's parity holds.")
    deployments.get_by_role("button", name="Promote to production").click()
    expect(page.locator(".messages")).to_contain_text("is now production")
    expect(page.locator("#gate-panel .checks li.pass", has_text="A sign-off owner promoted it")).to_be_visible()
    _shot(page, artifacts_dir, 9, "play6-production")
    _sign_out(page)

    first = Deployment.objects.get(project=project)
    # Production traffic: a stream like the approved data, then a drifted one; a share gets its true label.
    call_command("simulate_traffic", deployment=first.pk, rows=200, drift=True, feedback=0.6, run_checks=True)

    sign_in("data.owner")
    page.goto(f"{base}/deployments/{first.pk}/monitoring/")
    alerts = page.locator("#alerts")
    _reload_until(page, alerts.get_by_role("link", name="cycle 2"))
    expect(page.locator("#signals svg").first).to_be_visible()
    expect(alerts).to_contain_text("retrain")
    _shot(page, artifacts_dir, 10, "play6-monitor-tripped")

    # ======================================================================================================
    # Cycle 2, Play 3 — data.owner turns the labelled production data into a new version and seals it.
    # ======================================================================================================
    production_data = page.locator("#production-data")
    production_data.get_by_role("button", name="Add the labelled production data as a new dataset version").click()
    expect(page.locator(".messages")).to_contain_text("from production) is the new version of dataset")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Play 3: Build data pipeline")
    expect(page.locator(".crumbs")).to_contain_text("cycle 2")
    expect(page.locator("#retrain")).to_contain_text("Monitor")
    page.locator("#splits").get_by_role("button", name="Seal splits").click()
    expect(page.locator("#splits tbody tr")).to_have_count(4, timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#splits")).to_contain_text("Golden")
    expect(page.locator("#splits")).to_contain_text("Extends split set")
    deliverable = page.locator("#deliverable")
    deliverable.get_by_label("Label audit").select_option(index=1)
    deliverable.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    _compare_production(page, production_csv)
    _write_notes(page)
    _shot(page, artifacts_dir, 11, "cycle2-play3-golden")
    _submit(page, 3)
    _sign_out(page)
    approve("Play 3: Build data pipeline", 3)

    # ======================================================================================================
    # Cycle 2, Play 4 — model.owner retrains from the production checkpoint.
    # ======================================================================================================
    sign_in("model.owner")
    _open_play(page, 4, "Freeze then unfreeze")
    retrain_form = page.locator("#inputs form").filter(has=page.locator("input[name=kind][value=retrain]"))
    retrain_button = retrain_form.get_by_role("button", name=f"Retrain from job #{frozen_id}")
    expect(retrain_button).to_be_visible()
    retrain_form.get_by_label(re.compile("layer groups")).fill("1")
    retrain_button.click()
    retrain_id = _queued_job_id(page)
    _job_succeeds(page, retrain_id, timeout=480_000)
    _choose_checkpoint(page, retrain_id)
    _shot(page, artifacts_dir, 12, "cycle2-play4-retrain")
    _submit(page, 4)
    _sign_out(page)
    approve("Play 4: Freeze then unfreeze", 4)

    # ======================================================================================================
    # Cycle 2, Play 5 — the challenger against production, on the recent slice and the golden set.
    # ======================================================================================================
    sign_in("signoff.owner")
    _open_play(page, 5, "Evaluate vs baseline")
    expect(page.locator("#evaluation")).to_contain_text("test rows", timeout=JOB_TIMEOUT_MS)
    golden = page.locator("#report-golden")
    expect(golden).to_contain_text("still hold on the golden set")
    _answer_the_questions(page)
    gate = page.locator("#gate-panel")
    golden_check = gate.locator(".checks li", has_text="The challenger holds on the golden set")
    expect(golden_check).to_be_visible()
    _shot(page, artifacts_dir, 13, "cycle2-play5-golden")
    _submit(page, 5)
    expect(gate.get_by_role("button", name="Keep the model in production (this cycle ends)")).to_be_visible()
    _decide(page, "Approve the candidate (it goes to Play 6)", "It holds on the golden set and serves recent traffic.",
            "Play 5 approved.")
    _sign_out(page)

    # ======================================================================================================
    # Cycle 2, Play 6 — the approval deployed the challenger as production; signoff.owner rolls back.
    # ======================================================================================================
    sign_in("signoff.owner")
    page.goto(f"{base}/projects/{project.pk}/")
    page.locator("#plays tr[data-play='6']").get_by_role("link").click()
    rollback = page.locator("#deployments").get_by_role("button", name=f"Roll back to #{first.pk}")
    _reload_until(page, rollback, timeout_s=JOB_TIMEOUT_MS / 1000)
    _shot(page, artifacts_dir, 14, "cycle2-play6-promoted")
    second_box = page.locator("#deployments .deployment").filter(
        has=page.get_by_role("button", name=f"Roll back to #{first.pk}"))
    second_id = int(second_box.get_attribute("data-deployment"))
    second_box.get_by_label("Reason").fill("Rolling back while support checks the new queue mapping.")
    rollback.click()
    expect(page.locator(".messages")).to_contain_text(f"Production is back on deployment #{first.pk}.")
    expect(page.locator(f"#deployments .deployment[data-deployment='{first.pk}'] .status")).to_have_text("Production")
    _shot(page, artifacts_dir, 15, "cycle2-rolled-back")
    _sign_out(page)

    # ======================================================================================================
    # The record: admin reads the loop in the audit trail; data.owner's inbox told them of the new cycle.
    # ======================================================================================================
    sign_in("admin")
    page.locator(".topbar").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    filters = page.locator("form.filters")
    filters.locator("select[name=project]").select_option(label=PROJECT)
    filters.locator("input[name=actor]").fill("system")
    filters.get_by_role("button", name="Filter").click()
    trail = page.locator("table.audit tbody")
    expect(trail.locator("tr", has_text="cycle.opened")).not_to_have_count(0)
    expect(trail.locator("tr", has_text="deployment.promote")).not_to_have_count(0)
    _shot(page, artifacts_dir, 16, "audit-trail")
    _sign_out(page)

    sign_in("data.owner")
    page.locator(".topbar").get_by_role("link", name=re.compile("Inbox")).click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.locator("ul.inbox")).to_contain_text(f"Retrain: cycle 2 of “{PROJECT}” opened")
    _shot(page, artifacts_dir, 17, "inbox")
    _sign_out(page)
    print(f"tour finished in {time.monotonic() - started:.0f} s")

    # --- The database agrees. ----------------------------------------------------------------------------
    cycle2 = Cycle.objects.get(project=project, number=2)
    assert cycle2.trigger["by"] == "system" and cycle2.trigger["kind"] == "retrain"
    for number in (3, 4, 5):
        assert Play.objects.get(cycle=cycle2, number=number).status == Play.Status.APPROVED
    first.refresh_from_db()
    second = Deployment.objects.get(pk=second_id)
    assert first.stage == Deployment.Stage.PRODUCTION and second.stage != Deployment.Stage.PRODUCTION
    assert second.package.play.cycle_id == cycle2.pk
    assert AuditEvent.objects.filter(project=project, action="deployment.promote", actor__isnull=True,
                                     object_id=str(second_id)).exists()
    assert AuditEvent.objects.filter(project=project, action="deployment.rollback",
                                     actor__username="signoff.owner").exists()
