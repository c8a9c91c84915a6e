"""Figures with their spread, as Plays 1 and 2 show them: a stored scorecard's number on a metric, the spread
over the cross-validation folds behind it, repeated latency timings, and plain-words comparisons that say
when a difference is within noise. Stored results from before spreads were recorded still render: their
figures come back with ``spread`` None and the page says so."""
from apps.core.templatetags.units import count_human, ms
from workers.engine.spread import compare_latency, within_noise

QUALITY_METRICS = ("accuracy", "macro_f1", "false_positive_rate")


def metric_figure(numbers: dict, metric: str) -> dict:
    """{"value": the pooled figure, "spread": {mean, sd, min, max, n} over the folds or None}."""
    spread = (numbers.get("folds_spread") or {}).get(metric)
    return {"value": numbers.get(metric), "spread": spread}


def latency_figure(numbers: dict) -> dict | None:
    """The repeated-timing summary (median, p25/p75, repeats, batch) or None for a result measured once."""
    latency = numbers.get("latency")
    return latency if latency and latency.get("median_ms") is not None else None


def figures(numbers: dict) -> dict:
    """Every quality metric's figure and the latency of one baseline or candidate scorecard."""
    return {**{name: metric_figure(numbers, name) for name in QUALITY_METRICS},
            "latency": latency_figure(numbers), "p95_latency_ms": numbers.get("p95_latency_ms"),
            "has_spread": bool(numbers.get("folds_spread"))}


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def spread_words(spread: dict) -> str:
    """'0.812 ± 0.021 sd over 5 folds (range 0.781–0.843)'."""
    return (f"{_fmt(spread['mean'])} ± {_fmt(spread['sd'])} sd over {spread['n']} folds "
            f"(range {_fmt(spread['min'])}–{_fmt(spread['max'])})")


def target_comparison(spread: dict | None, target: float, metric: str) -> dict | None:
    """Whether a fixed target lies within one fold standard deviation of a figure's fold mean."""
    noise = within_noise(spread, target)
    if noise is None:
        return None
    words = (f"The target ({target:g}) is within one standard deviation of the best baseline's {metric} "
             f"({_fmt(spread['mean'])} ± {_fmt(spread['sd'])} over {spread['n']} folds): within noise, the verdict "
             "could go either way on other data." if noise else
             f"The target ({target:g}) lies beyond one standard deviation of the best baseline's {metric} "
             f"({_fmt(spread['mean'])} ± {_fmt(spread['sd'])} over {spread['n']} folds).")
    return {"within_noise": noise, "words": words}


def quality_comparison(a_name: str, a: dict, b_name: str, b: dict, metric: str) -> dict | None:
    """Two fold-scored figures on ``metric``: the difference of fold means and whether it is within noise
    (no larger than the larger fold sd). None when either has no fold figures."""
    sa, sb = (a.get("folds_spread") or {}).get(metric), (b.get("folds_spread") or {}).get(metric)
    noise = within_noise(sa, sb)
    if noise is None:
        return None
    difference = sa["mean"] - sb["mean"]
    largest_sd = max(sa["sd"], sb["sd"])
    words = (f"{metric}: {a_name} {_fmt(sa['mean'])} vs {b_name} {_fmt(sb['mean'])}, a difference of "
             f"{abs(difference):.3f}, " + ("within noise: the larger sd over folds is " if noise else
                                            "beyond the larger sd over folds, ") + f"{largest_sd:.3f}.")
    return {"within_noise": noise, "difference": difference, "words": words}


def latency_comparison(a_name: str, a: dict, b_name: str, b: dict, *, device: str = "") -> dict | None:
    """Two scorecards' repeated latencies compared (``spread.compare_latency``), in words, with a caveat when
    the smaller model (fewer parameters) measured slower. None when either was measured only once."""
    la, lb = latency_figure(a), latency_figure(b)
    if la is None or lb is None:
        return None
    result = compare_latency(la, lb, a_size=a.get("parameters"), b_size=b.get("parameters"))
    noise = ms(result["noise_ms"])
    runs = (f"{la['repeats']} timed runs each" if la["repeats"] == lb["repeats"]
            else f"{la['repeats']} and {lb['repeats']} timed runs")
    words = (f"Latency: {a_name} {ms(la['median_ms'])} vs {b_name} {ms(lb['median_ms'])} per item (medians of "
             f"{runs}), " +
             (f"within noise: differences under {noise} are noise here." if result["within_noise"] else
              f"a difference of {ms(abs(result['difference_ms']))}, beyond the noise of {noise}."))
    caveat = ""
    if result["unexpected"]:
        small, large = (a_name, b_name) if a["parameters"] < b["parameters"] else (b_name, a_name)
        sizes = {a_name: a["parameters"], b_name: b["parameters"]}
        where = f"this worker's {device}" if device else "this worker"
        caveat = (f"{small} is the smaller model ({count_human(sizes[small])} parameters against "
                  f"{count_human(sizes[large])}) yet measured slower. Timings were taken on {where} alongside "
                  f"its other load; differences under {noise} are noise, and a smaller model is usually faster "
                  "where it will be served. Re-run the bake-off on an idle worker before relying on this.")
    return {**result, "words": words, "caveat": caveat}
