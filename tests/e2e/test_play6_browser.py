"""Play 6 in a real browser: the model owner deploys the package the system built, a sign-off owner promotes
it, traffic flows, and the data owner reads the monitoring page after the monitor trips.

Plays 1-5 are reached through the services on a tiny random BERT; the package and drift-check jobs run
through the worker's code path in this process.
"""
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from apps.monitoring.models import Deployment
from tests.e2e.test_play1_browser import _sign_in, _sign_out
from tests.unit.engine.conftest import build_tiny_bert
from tests.unit.test_play5 import reach_play5
from tests.unit.test_play6 import _approved, _package

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_deploy_promote_and_watch_the_monitor(team, sample_upload, live_server, page: Page, monkeypatch, tmp_path,
                                              artifacts_dir, settings):
    settings.PLAYBOOK_WINDOW_SIZE = 200
    base = live_server.url
    state = reach_play5(team, sample_upload, monkeypatch, build_tiny_bert(tmp_path / "tiny", layers=2, seed=0))
    play6 = _approved(team, state)
    package = _package(play6)

    _sign_in(page, base, "mo")
    page.goto(f"{base}/plays/{play6.pk}/")
    expect(page.locator("#package")).to_contain_text(package.sha256[:12])
    expect(page.locator("#parity")).to_contain_text("fp32")
    # The gate judges the package its owner chooses: the page says none is chosen and offers it.
    expect(page.locator("#judged-package")).to_contain_text("No package is chosen")
    page.get_by_role("button", name=f"Use package #{package.pk}").click()
    expect(page.locator("#judged-package")).to_contain_text(f"The gate judges package #{package.pk}")

    # The thresholds form: a bad value is refused with the service's message and what was typed stays.
    form = page.locator("#thresholds-form")
    form.get_by_label("Input text drift (domain-classifier AUC)").fill("0.7")
    form.get_by_label("Persistence (breaching windows)").fill("4")
    form.get_by_role("button", name="Save the thresholds and the alert policy").click()
    expect(page.locator("#thresholds-error")).to_contain_text("The persistence (4 windows) cannot exceed the lookback (3 windows")
    expect(page.locator("#thresholds-form").get_by_label("Input text drift (domain-classifier AUC)")).to_have_value("0.7")
    page.screenshot(path=str(artifacts_dir / "play6-thresholds-refused.png"), full_page=True)
    form = page.locator("#thresholds-form")
    form.get_by_label("Lookback (judged windows)").fill("5")
    form.get_by_role("button", name="Save the thresholds and the alert policy").click()
    expect(page.locator(".messages")).to_contain_text("Drift thresholds and alert policy saved")
    play6.refresh_from_db()
    assert play6.deliverable["drift_thresholds"] == {"text": 0.7}
    assert play6.deliverable["alert_policy"] == {"persistence": 4, "lookback": 5}
    page.locator("#thresholds").screenshot(path=str(artifacts_dir / "play6-thresholds.png"))
    page.get_by_label("Persistence (breaching windows)").fill("")  # back to the defaults for the monitor below
    page.get_by_label("Lookback (judged windows)").fill("")
    page.get_by_label("Input text drift (domain-classifier AUC)").fill("")
    page.get_by_role("button", name="Save the thresholds and the alert policy").click()
    expect(page.locator(".messages")).to_contain_text("Drift thresholds and alert policy saved")
    page.locator("#package").get_by_label("Why deploy it").fill("Approved at Play 5.")
    page.get_by_role("button", name="Deploy as the challenger").click()
    expect(page.locator(".messages")).to_contain_text("deployed as the challenger")
    page.screenshot(path=str(artifacts_dir / "play6-package.png"), full_page=True)
    _sign_out(page)

    _sign_in(page, base, "so")
    page.goto(f"{base}/plays/{play6.pk}/")
    deployments = page.locator("#deployments")
    deployments.get_by_label("Reason").fill("The evaluation supports it.")
    deployments.get_by_role("button", name="Promote to production").click()
    expect(page.locator(".messages")).to_contain_text("is now production")
    expect(page.locator("#deployments")).to_contain_text("Production")
    expect(page.locator("#thresholds-form input:not([type=hidden])")).to_have_count(0)  # a sign-off owner reads them only
    page.screenshot(path=str(artifacts_dir / "play6-signoff-view.png"), full_page=True)
    _sign_out(page)

    deployment = Deployment.objects.get(package=package)
    call_command("simulate_traffic", deployment=deployment.pk, rows=200, drift=True, run_checks=True, feedback=0.5)

    _sign_in(page, base, "do")
    page.goto(f"{base}/plays/{play6.pk}/")
    page.locator("#deployments").get_by_role("link", name="Monitoring").click()
    expect(page).to_have_url(re.compile(rf"/deployments/{deployment.pk}/monitoring/$"))
    expect(page.locator("#signals svg").first).to_be_visible()
    expect(page.locator("#windows tr", has_text="Window 2")).to_contain_text("text")  # breached (alerts need persistence)
    expect(page.locator("#alerts")).to_contain_text("retrain")
    expect(page.locator("#explanation")).to_contain_text("Words more frequent in production")
    page.screenshot(path=str(artifacts_dir / "play6-monitoring.png"), full_page=True)
