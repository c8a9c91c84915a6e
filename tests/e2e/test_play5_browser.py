"""Play 5 in a real browser: the sign-off owner reads the evaluation report, answers the three questions and
takes each decision once — reject to Play 4, ship the baseline, approve — and opens the sign-off record.

Plays 1-4 are reached through the services on a tiny random BERT candidate (their own browser tests cover
them); the evaluate and sign-off record jobs run through the worker's code path in this process.
"""
import re

import pytest
from playwright.sync_api import Page, expect

from apps.evaluation.models import Evaluation
from apps.jobs.models import Job
from apps.playbook.models import Play
from apps.playbook.services import gate_decide, member_add, play_submit, play_update_deliverable, project_create
from tests.e2e.test_play1_browser import _section, _sign_in, _sign_out
from tests.helpers import run_job
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import ANSWERS, reach_play5

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _run_latest(play, kind):
    job = Job.objects.filter(play=play, kind=kind).latest("created_at")
    done = run_job(job.pk)
    assert done.status == "succeeded", done.error
    return done


def _answer_and_submit(page: Page, base: str, play: Play, artifacts_dir, shot: str) -> None:
    """As the sign-off owner: open Play 5 from My work, read the report, answer, save and submit."""
    _section(page, "Plays assigned to me").get_by_role("link", name=re.compile("Play 5")).first.click()
    expect(page).to_have_url(re.compile(rf"/plays/{play.pk}/$"))
    report = page.locator("#evaluation")
    expect(report).to_contain_text("test rows")
    expect(page.locator("svg[role='img']").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / shot), full_page=True)
    questions = page.locator("#questions")
    for key, answer in ANSWERS.items():
        questions.locator(f"#answer-{key}").fill(answer)
    questions.get_by_role("button", name=re.compile("Save the answers")).click()
    expect(page.locator(".messages")).to_contain_text("Deliverable saved.")
    gate = page.locator("#gate-panel")
    expect(gate.locator(".checks li.fail:not(.info)")).to_have_count(0)
    gate.get_by_role("button", name="Submit for sign-off").click()
    expect(page.locator("#play-status")).to_have_text("Submitted")


def _decide(page: Page, button: str, reason: str, message: str) -> None:
    gate = page.locator("#gate-panel")
    gate.get_by_label(re.compile("^Reason")).fill(reason)
    gate.get_by_role("button", name=button).click()
    expect(page.locator(".messages")).to_contain_text(message)


def test_the_signoff_owner_reads_the_report_and_takes_each_decision(team, sample_upload, live_server, page: Page,
                                                                     monkeypatch, tmp_path, artifacts_dir):
    base = live_server.url
    model = build_tiny_bert(tmp_path / "tiny", layers=2, seed=0)
    state = reach_play5(team, sample_upload, monkeypatch, model)
    play, play4 = state["play"], state["play4"]
    _run_latest(play, "evaluate")

    # 1. Reject to Play 4.
    _sign_in(page, base, "so")
    _answer_and_submit(page, base, play, artifacts_dir, "play5-report.png")
    _sign_out(page)
    # so2, a sign-off owner who also trained the candidate: the page says why they may not decide.
    _sign_in(page, base, "so2")
    page.goto(f"{base}/plays/{play.pk}/")
    expect(page.locator("#gate-panel")).to_contain_text("You trained this candidate")
    expect(page.locator("#gate-panel button[name='decision']")).to_have_count(0)
    _sign_out(page)
    _sign_in(page, base, "so")
    page.goto(f"{base}/plays/{play.pk}/")
    page.screenshot(path=str(artifacts_dir / "play5-gate.png"), full_page=True)
    _decide(page, "Reject: train again (back to Play 4)", "Too many regressions on short tickets.",
            "goes back to Play 4")
    expect(page.locator("#plays tr[data-play='4'] .status")).to_have_text("Rejected")
    expect(page.locator("#plays tr[data-play='5'] .status")).to_have_text("Locked")
    _sign_out(page)
    _run_latest(play, "signoff_record")  # a rejection is on file too

    # The model owner resubmits; the new approval starts a new evaluation.
    play_update_deliverable(actor=team["mo"], play=play4, deliverable={})
    play_submit(actor=team["mo"], play=play4)
    gate_decide(actor=team["so"], play=play4, decision="approve")
    _run_latest(play, "evaluate")

    # 2. Ship the baseline.
    _sign_in(page, base, "so")
    _answer_and_submit(page, base, play, artifacts_dir, "play5-report-second.png")
    _decide(page, "Ship the baseline instead (it goes to Play 6)", "Not better than TF-IDF by the margin.",
            "The baseline goes on to Play 6")
    expect(page.locator("#plays tr[data-play='5'] .status")).to_have_text("Approved")
    expect(page.locator("#plays tr[data-play='6'] .status")).to_have_text("Ready")
    page.screenshot(path=str(artifacts_dir / "play5-shipped-baseline.png"), full_page=True)
    _sign_out(page)

    # 3. Approve, on a second project walked to Play 5 the same way; then the sign-off record.
    second = project_create(actor=team["mo"], name="Ticket routing, second market", request="Route tickets.")
    for username, role in (("do", "data_owner"), ("so", "signoff_owner")):
        member_add(actor=team["mo"], project=second, username=username, role=role)
    people = {**team, "project": second, "play1": second.cycles.get().plays.get(number=1)}
    other = reach_play5(people, sample_upload, monkeypatch, model)["play"]
    evaluation = Evaluation.objects.get(job=_run_latest(other, "evaluate"))
    _sign_in(page, base, "so")
    _answer_and_submit(page, base, other, artifacts_dir, "play5-report-third.png")
    _decide(page, "Approve the candidate (it goes to Play 6)", "The evidence supports it.", "Play 5 approved.")
    expect(page.locator("#plays tr[data-play='6'] .status")).to_have_text("Ready")
    _run_latest(other, "signoff_record")
    page.goto(f"{base}/plays/{other.pk}/")
    pdf_link = page.locator("#evaluation").get_by_role("link", name="PDF")
    expect(pdf_link).to_be_visible()
    page.goto(f"{base}/evaluations/{evaluation.pk}/record.html")
    expect(page.locator("body")).to_contain_text("The evidence supports it.")
    expect(page.locator("body")).to_contain_text(evaluation.predictions.sha256)
    page.screenshot(path=str(artifacts_dir / "play5-signoff-record.png"), full_page=True)
    evaluation.refresh_from_db()
    assert evaluation.record_pdf is not None and evaluation.record_decision.decision == "approve"
