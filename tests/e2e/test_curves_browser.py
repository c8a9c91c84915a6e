"""Play 4's live curves in a real browser: a frozen-head job computed by a real Celery worker draws its points
while it runs (the chart survives every 2-second poll: same canvas, same size, more points) and once it has
finished; the finished run's validation curve can then be overlaid from the runs table.

The worker pauses a few seconds after each of the job's first three progress reports (the launcher of the
fault tests), so that the job is surely still running across two polls on a fast machine.
"""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_play1_browser import _sign_in
from tests.helpers import seal_now, submitted_play1, walk_past
from tests.integration.test_faults import start_worker, stop
from tests.unit.engine.conftest import build_tiny_bert

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT_MS = 180_000
EPOCHS = 6

# The live chart of job N, as curves.js registers it: its datasets' lengths by key, and the canvas size.
CHART_STATE = """(canvasId) => {
  const chart = window.playbookCharts && window.playbookCharts[canvasId];
  if (!chart) return null;
  const lengths = {};
  chart.data.datasets.forEach(function (d) { lengths[d.key] = chart.$playbook.points[d.key].length; });
  const canvas = document.getElementById(canvasId);
  return {lengths: lengths, width: canvas.clientWidth, height: canvas.clientHeight,
          same: canvas.dataset.marked === "yes",
          status: document.getElementById(canvasId.replace("curve-", "job-")).dataset.status};
}"""


@pytest.fixture
def slow_worker(tmp_path):
    """A real worker on the GPU queue (where training jobs go) that pauses 3 s after each job's first three
    progress reports."""
    worker = start_worker(tmp_path / "worker.log", "gpu", FAULTS_REPORT_PAUSE="3")
    yield worker
    stop(worker)


def test_the_curves_draw_while_a_play4_job_runs_and_after_it_finished(team, sample_upload, live_server, slow_worker,
                                                                      page: Page, monkeypatch, tmp_path,
                                                                      artifacts_dir):
    from apps.datasets.services import dataset_upload
    from apps.jobs.models import MetricPoint
    from apps.playbook.models import Play
    from apps.playbook.services import gate_decide
    from apps.playbook.services import play_job_start as job_start
    from apps.training.candidates import candidate_register

    play1 = submitted_play1(team, sample_upload)
    gate_decide(actor=team["so"], play=play1, decision="approve")
    walk_past(team, play1, (2, 3), monkeypatch)
    candidate = candidate_register(actor=team["mo"], project=team["project"], name="tiny",
                                   source=str(build_tiny_bert(tmp_path / "tiny", layers=2, seed=0)), licence="MIT",
                                   domain_rating=2, latency_budget_ms=100, memory_budget_mb=100)
    split_set = seal_now(team["do"], dataset_upload(actor=team["do"], project=team["project"], upload=sample_upload()),
                         train=0.6, val=0.2, test=0.2, seed=1)
    play4 = Play.objects.get(cycle=play1.cycle, number=4)
    job = job_start(actor=team["mo"], play=play4, kind="frozen_head",
                    params={"candidate": candidate.pk, "split_set": split_set.pk, "hidden": 16, "epochs": EPOCHS,
                            "patience": EPOCHS})
    canvas_id = f"curve-{job.pk}"

    _sign_in(page, live_server.url, "mo")
    page.goto(f"{live_server.url}/plays/{play4.pk}/")
    page.locator(f"#{canvas_id}").evaluate("canvas => { canvas.dataset.marked = 'yes'; }")

    # While it runs: points drawn on a canvas Chart.js sized to its box (not the 300×150 of a reset canvas).
    page.wait_for_function(f"""() => {{ const s = ({CHART_STATE})("{canvas_id}");
        return s && s.status === "running" && (s.lengths.train_loss || 0) > 0; }}""", timeout=JOB_TIMEOUT_MS)
    first = page.evaluate(CHART_STATE, canvas_id)
    assert first["status"] == "running" and first["same"]
    assert first["width"] > 300 and first["height"] > 150, first
    assert first["lengths"]["train_loss"] >= 1 and first["lengths"]["val_macro_f1"] >= 1
    assert first["lengths"]["train_loss_smoothed"] == first["lengths"]["train_loss"]
    page.screenshot(path=str(artifacts_dir / "curves-1-running.png"), full_page=True)

    # Two polls later the same canvas keeps its size and holds more points (the new ones were appended).
    for _ in range(2):
        page.locator(f"#job-{job.pk}").evaluate("block => { block.dataset.seen = 'yes'; }")
        expect(page.locator(f"#job-{job.pk}:not([data-seen])")).to_have_count(1, timeout=10_000)
    page.wait_for_function(f"""() => {{ const s = ({CHART_STATE})("{canvas_id}");
        return s.lengths.train_loss > {first["lengths"]["train_loss"]}; }}""", timeout=JOB_TIMEOUT_MS)
    later = page.evaluate(CHART_STATE, canvas_id)
    assert later["same"] and (later["width"], later["height"]) == (first["width"], first["height"]), (first, later)

    # Finished on screen: every stored point is drawn, none twice.
    expect(page.locator(f"#job-{job.pk} .status")).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    page.wait_for_function(f"""() => ({CHART_STATE})("{canvas_id}").status === "succeeded" """)
    done = page.evaluate(CHART_STATE, canvas_id)
    stored = {name: MetricPoint.objects.filter(job_id=job.pk, name=name).count()
              for name in ("train_loss", "val_macro_f1", "val_accuracy")}
    assert stored["train_loss"] == EPOCHS  # patience as long as the run: no early stop
    assert {name: done["lengths"][name] for name in stored} == stored
    assert done["same"] and (done["width"], done["height"]) == (first["width"], first["height"])

    # The finished run joined the runs table (the workspace reloaded itself, keeping the chart), with its
    # settings and its interval; its validation curve overlays when ticked.
    row = page.locator("#runs tbody tr", has_text=f"#{job.pk}")
    expect(row).to_contain_text("head with 16 hidden units")
    expect(row.locator(".interval")).to_have_text(re.compile(r"\(0\.\d{3}–[01]\.\d{3}\)"))
    row.get_by_label(f"overlay the validation curve of job {job.pk}").check()
    lengths = page.evaluate("""() => window.playbookCharts["overlay-chart"].data.datasets.map(d => d.data.length)""")
    assert lengths == [stored["val_macro_f1"]]
    page.screenshot(path=str(artifacts_dir / "curves-2-finished-overlay.png"), full_page=True)
    kept = page.evaluate(CHART_STATE, canvas_id)
    assert kept["same"] and kept["lengths"] == done["lengths"]

    # A fresh page draws the whole (stored, here short) history at once.
    page.reload()
    page.wait_for_function(f"""() => ({CHART_STATE})("{canvas_id}") !== null""")
    assert page.evaluate(CHART_STATE, canvas_id)["lengths"] == done["lengths"]
