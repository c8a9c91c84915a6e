"""Play 4's charts and runs table: the progress fragment sends only the points after its cursor, long series
are thinned for drawing (never in storage), the smoothed loss, each run's settings in words, one column per
metric, and the seeded 95% interval on the validation metric."""
import json
import re

import numpy as np
import pytest
from django.test import Client

from apps.jobs.models import Job, MetricPoint
from apps.jobs.series import CAP, downsample, ema, job_curves, parse_cursor
from apps.jobs.services import job_report
from apps.training.curves import metric_columns, run_rows, run_settings
from tests.conftest import PASSWORD
from tests.unit import test_play4
from workers.engine.heads import validation_interval, validation_scores

pytestmark = pytest.mark.django_db

# Play 4 ready to train on a tiny random BERT (plays 1-3 approved, a candidate, sealed splits).
tiny_model, play4 = test_play4.tiny_model, test_play4.play4


@pytest.fixture
def running(team):
    fourth = team["project"].cycles.get().plays.get(number=4)
    return Job.objects.create(project=team["project"], play=fourth, kind="unfreeze", queue="gpu",
                              status=Job.Status.RUNNING, created_by=team["mo"])


def _poll(client, job, after=None) -> tuple[dict, int]:
    """The progress fragment as htmx polls it: its curves JSON and its size in bytes."""
    url = f"/jobs/{job.pk}/progress/" + (f"?after={after}" if after is not None else "")
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 286)
    html = response.content.decode()
    found = re.search(rf'<script id="curves-data-{job.pk}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)), len(response.content)


def _client(username="mo"):
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_a_poll_with_the_cursor_gets_only_the_points_reported_since(team, running):
    job_report(job_id=running.pk, points=[(s, {"train_loss": 2.0 / s, "stage": 0.0}) for s in range(1, 201)],
               progress=0.4)
    job_report(job_id=running.pk, points=[(200, {"val_macro_f1": 0.5, "val_accuracy": 0.6, "val_metric": 0.5})],
               progress=0.5)
    client = _client()
    first, first_bytes = _poll(client, running)
    assert first["history"] is True
    assert len(first["series"]["train_loss"]) == 200 and first["series"]["val_macro_f1"] == [[200, 0.5]]
    assert "stage" not in first["series"] and "val_metric" not in first["series"]  # not drawn: not sent
    assert first["cursor"] == MetricPoint.objects.filter(job=running).order_by("-id").first().pk

    # Nothing new: nothing sent, and the cursor stays.
    same, _ = _poll(client, running, after=first["cursor"])
    assert same["series"] == {} and same["cursor"] == first["cursor"] and same["history"] is False

    # Three more loss points, and a validation point at an earlier step reported late: exactly those come.
    job_report(job_id=running.pk, points=[(s, {"train_loss": 0.01}) for s in (201, 202, 203)], progress=0.6)
    job_report(job_id=running.pk, points=[(150, {"val_accuracy": 0.55})], progress=0.6)
    second, second_bytes = _poll(client, running, after=first["cursor"])
    assert second["series"] == {"train_loss": [[201, 0.01], [202, 0.01], [203, 0.01]], "val_accuracy": [[150, 0.55]]}
    assert second["cursor"] > first["cursor"] and second_bytes < first_bytes / 3
    # The next poll's URL carries the new cursor.
    response = client.get(f"/jobs/{running.pk}/progress/?after={first['cursor']}", HTTP_HX_REQUEST="true")
    assert f"?after={second['cursor']}" in response.content.decode()


def test_the_poll_swaps_only_the_status_block_and_the_page_keeps_the_canvas(team, running):
    job_report(job_id=running.pk, points=[(1, {"train_loss": 1.0})], progress=0.1)
    client = _client()
    poll = client.get(f"/jobs/{running.pk}/progress/?after=0", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="job-{running.pk}"' in poll and "<canvas" not in poll and 'hx-swap="outerHTML"' in poll
    page = client.get(f"/plays/{running.play_id}/").content.decode()
    # The canvas sits outside the polled block (after its closing tag), in a box htmx preserves.
    block = page.index(f'id="job-{running.pk}"')
    assert page.index(f'<canvas id="curve-{running.pk}"') > page.index("</div>", block)
    assert f'id="curves-{running.pk}" hx-preserve="true"' in page


def test_a_cursor_that_is_no_number_resends_the_history(team, running):
    job_report(job_id=running.pk, points=[(1, {"train_loss": 1.0}), (2, {"train_loss": 0.5})], progress=0.1)
    assert parse_cursor("12") == 12 and parse_cursor(None) is None
    assert parse_cursor("-3") is None and parse_cursor("abc") is None and parse_cursor("") is None
    curves, _ = _poll(_client(), running, after="x1")
    assert curves["history"] is True and len(curves["series"]["train_loss"]) == 2


def test_a_10k_point_series_is_drawn_from_at_most_the_cap_and_stored_whole(team, running):
    rng = np.random.default_rng(0)
    values = 2.0 * np.exp(-np.arange(10_000) / 3000) + rng.normal(0, 0.05, 10_000)
    values[7_777] = 9.0  # a spike thinning must not hide
    MetricPoint.objects.bulk_create(MetricPoint(job=running, step=s + 1, name="train_loss", value=float(v))
                                    for s, v in enumerate(values))
    curves, size = _poll(_client(), running)
    drawn = curves["series"]["train_loss"]
    assert len(drawn) <= CAP and len(curves["smoothed"]["train_loss"]) <= CAP
    assert drawn[0] == [1, pytest.approx(values[0], rel=1e-3)]
    assert drawn[-1] == [10_000, pytest.approx(values[-1], rel=1e-3)]
    assert [7_778, 9.0] in drawn
    assert MetricPoint.objects.filter(job=running).count() == 10_000  # storage untouched
    assert size < 60_000


def test_downsampling_keeps_short_series_and_the_shape_of_long_ones():
    short = [(i, float(i)) for i in range(10)]
    assert downsample(short, 500) == short
    wave = [(i, float(np.sin(i / 50))) for i in range(5_000)]
    kept = downsample(wave, 100)
    assert len(kept) == 100 and kept[0] == wave[0] and kept[-1] == wave[-1]
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)  # still in step order
    assert max(p[1] for p in kept) > 0.99 and min(p[1] for p in kept) < -0.99  # peaks and troughs survive
    with pytest.raises(ValueError):
        downsample(wave, 2)


def test_the_smoothed_loss_is_an_ema_the_browser_can_continue():
    assert ema([4.0, 0.0, 0.0], weight=0.5) == [4.0, 2.0, 1.0]
    values = [3.0, 1.0, 2.0, 5.0, 0.5]
    whole = ema(values)
    assert ema(values[3:], start=ema(values[:3])[-1]) == pytest.approx(whole[3:])
    with pytest.raises(ValueError):
        ema(values, weight=1.0)


def test_the_history_smooths_every_stored_point_before_thinning(team, running):
    job_report(job_id=running.pk, points=[(s, {"train_loss": float(s % 2)}) for s in range(1, 7)], progress=0.5)
    curves = job_curves(running)
    expected = [[s, pytest.approx(v, rel=1e-3)] for s, v in zip(range(1, 7), ema([1, 0, 1, 0, 1, 0]))]
    assert curves["smoothed"]["train_loss"] == expected


def test_each_run_shows_its_settings_in_plain_words():
    frozen = run_settings("frozen_head", {"hidden": 64, "lr": 0.001, "epochs": 50, "patience": 5, "batch_size": 64,
                                          "seed": 0, "max_length": 128, "pooling": "mean"})
    assert frozen == ["head with 64 hidden units", "learning rate 0.001", "up to 50 epochs", "patience 5 epochs",
                      "batches of 64", "texts cut at 128 tokens", "mean pooling", "seed 0"]
    linear = run_settings("frozen_head", {"hidden": None, "lr": 0.001, "epochs": 50, "seed": 3})
    assert linear[0].startswith("linear head") and "learning rate 0.001" not in linear and "seed 3" in linear
    unfreeze = run_settings("unfreeze", {"from_job": 7, "max_stages": 4, "lr_divisor": 10.0, "epochs_per_stage": 2,
                                         "patience": 1, "batch_size": 16, "batching": "bucketed"})
    assert unfreeze[:5] == ["from frozen head #7", "up to 4 layer groups", "learning rate divided by 10",
                            "2 epochs per stage", "patience 1 stages"]
    assert "batches of 16, batches of similar lengths" in unfreeze
    assert "every layer group" in run_settings("unfreeze", {"from_job": 7, "max_stages": None})
    assert run_settings("retrain", {"from_job": 9, "split_set": 4, "seed": 0}) == [
        "continues job #9", "on splits #4", "seed 0"]
    # Options a job predates are left out, never shown as "None".
    assert not any("None" in w for w in run_settings("unfreeze", {"from_job": 7, "max_stages": 2,
                                                                   "lr_divisor": 10, "epochs_per_stage": 1,
                                                                   "patience": 1}))


def test_the_runs_table_has_one_column_per_metric_and_the_interval_on_the_committed_one(team, running):
    assert [key for key, _ in metric_columns("macro_f1")] == ["macro_f1", "accuracy"]
    assert [key for key, _ in metric_columns("false_positive_rate")] == ["macro_f1", "accuracy", "false_positive_rate"]
    runs = [{"job": running.pk, "kind": "unfreeze", "val": {"macro_f1": 0.9, "accuracy": 0.93},
             "val_interval": {"metric": "macro_f1", "low": 0.88, "high": 0.92}},
            {"job": running.pk, "kind": "unfreeze", "val": {"macro_f1": 0.8, "accuracy": 0.85}}]
    with_interval, older = run_rows(runs, "macro_f1")
    assert [c["value"] for c in with_interval["cells"]] == [0.9, 0.93]
    assert with_interval["cells"][0]["interval"]["low"] == 0.88 and with_interval["cells"][1]["interval"] is None
    assert older["cells"][0]["interval"] is None  # recorded before intervals: the value alone
    # An interval on another metric than the committed one is not shown against it.
    assert run_rows(runs[:1], "accuracy")[0]["cells"][1]["interval"] is None


def test_the_validation_interval_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    predicted = np.where(rng.random(300) < 0.8, y, rng.integers(0, 3, 300))
    scores = validation_scores(y, predicted, positive_label=1)
    for metric in ("accuracy", "macro_f1", "false_positive_rate"):
        low, high = validation_interval(y, predicted, metric, positive_label=1, seed=4)
        assert (low, high) == validation_interval(y, predicted, metric, positive_label=1, seed=4)
        assert low < scores[f"val_{metric}"] < high and high - low < 0.2
    assert validation_interval(y, predicted, "macro_f1", seed=5) != validation_interval(y, predicted, "macro_f1", seed=4)
    # Perfect predictions leave nothing to resample: the interval is the point.
    assert validation_interval(y, y, "accuracy") == (1.0, 1.0)
    # More rows, a narrower interval.
    big_y = np.tile(y, 4)
    big_low, big_high = validation_interval(big_y, np.tile(predicted, 4), "accuracy")
    low, high = validation_interval(y, predicted, "accuracy")
    assert big_high - big_low < (high - low) * 0.7
    with pytest.raises(ValueError):
        validation_interval([], [], "accuracy")


def test_the_validation_interval_covers_the_true_accuracy_about_95_in_100_times():
    rng = np.random.default_rng(7)
    truth, n, covered, trials = 0.8, 400, 0, 200
    for trial in range(trials):
        y = rng.integers(0, 2, n)
        predicted = np.where(rng.random(n) < truth, y, 1 - y)
        low, high = validation_interval(y, predicted, "accuracy", resamples=500, seed=trial)
        covered += low <= truth <= high
    assert 0.88 <= covered / trials <= 0.99


def test_the_validation_axis_gets_the_play1_target_and_best_baseline(team, sample_upload, settings):
    from apps.core import registry
    from apps.playbook.services import gate_decide
    from apps.training.curves import reference_lines
    from tests.helpers import submitted_play1

    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"
    play1 = submitted_play1(team, sample_upload, target=0.95)
    fourth = play1.cycle.plays.get(number=4)
    draft = registry.play_module(1).baseline_summary(play1)
    before = reference_lines(fourth, "macro_f1", 0.95)  # Play 1 not approved yet: its measured draft
    assert before["metric"] == "val_macro_f1"
    assert [line["key"] for line in before["lines"]] == ["target", "baseline"]
    assert before["lines"][0] == {"key": "target", "label": "Play 1 target 0.95", "value": 0.95}
    assert before["lines"][1]["value"] == draft["best_value"] and draft["best"] in before["lines"][1]["label"]
    gate_decide(actor=team["so"], play=play1, decision="approve")
    assert reference_lines(fourth, "macro_f1", 0.95) == before  # the hand-off holds the same numbers
    assert reference_lines(fourth, "macro_f1", None)["lines"][0]["key"] == "baseline"


def test_a_finished_run_stores_its_interval_and_the_page_and_gate_show_it(team, play4):
    from apps.core import registry
    from apps.playbook.services import play_update_deliverable
    play = play4["play"]
    job = test_play4.run(team, play, "frozen_head", epochs=3, hidden=16, seed=2, **play4["inputs"])
    interval = job.result["val_interval"]
    value = job.result["val"]["macro_f1"]
    assert interval["metric"] == "macro_f1" and interval["seed"] == 2 and interval["level"] == 0.95
    assert interval["low"] <= value <= interval["high"]
    play.refresh_from_db()
    assert play.evidence["runs"][str(job.pk)]["val_interval"] == interval
    html = _client().get(f"/plays/{play.pk}/").content.decode()
    assert f'{value:.3f} <small class="interval">({interval["low"]:.3f}–{interval["high"]:.3f})</small>' in html
    assert "head with 16 hidden units" in html and "Validation macro_f1" not in html  # no duplicated column
    play = play_update_deliverable(actor=team["mo"], play=play, deliverable={"checkpoint_job": job.pk})
    check = {c.key: c for c in registry.play_module(4).checks(play)}["val_vs_target"]
    assert f"(95% interval {interval['low']:.3f}–{interval['high']:.3f})" in check.detail
    assert check.evidence["interval"] == [interval["low"], interval["high"]]
