"""Filters and tags for Play 5's report: numbers formatted for a reader, plain words for the verdict, and
the charts embedded as inline SVG.

The committed metrics (accuracy, macro-F1, false-positive rate) are fractions from 0 to 1; they are written
with three decimals, their differences signed, and a missing or NaN number as an em dash, never "nan".
"""
from __future__ import annotations

import math
from datetime import datetime

from django import template
from django.utils.safestring import mark_safe

from apps.evaluation import charts

register = template.Library()

MISSING = "\u2014"
MINUS = "\u2212"

CHARTS = {
    "delta": charts.delta_chart,
    "models": charts.models_chart,
    "per_class": charts.per_class_chart,
    "reliability": charts.reliability_chart,
    "confusion": charts.confusion_heatmap,
}

VERDICT_WORDS = {
    charts.BEATS: "The candidate beats the reference by the margin committed in Play 1.",
    charts.BETTER: "The candidate is better than the reference, but not by the margin committed in Play 1.",
    charts.INDISTINGUISHABLE: "The candidate and the reference cannot be told apart on this test set.",
    charts.WORSE: "The candidate is worse than the reference.",
}
# The site's message boxes: green, amber, blue, red.
VERDICT_CLASS = {charts.BEATS: "success", charts.BETTER: "warning", charts.INDISTINGUISHABLE: "warning",
                 charts.WORSE: "error"}

METRIC_GLOSS = {
    "accuracy": "the share of test rows given the right label",
    "macro_f1": "the average over labels of F1, a score from 0 to 1 that is high only when a label is both "
                "rarely given wrongly and rarely missed; every label counts the same, however rare",
    "false_positive_rate": "the share of rows that are not {positive} yet were labelled {positive}",
}


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fixed(number: float, digits: int, *, sign: bool) -> str:
    if round(number, digits) == 0:
        number = 0.0  # no "-0.000"
    text = f"{number:+.{digits}f}" if sign else f"{number:.{digits}f}"
    return text.replace("-", MINUS)


@register.filter
def num(value, digits=3) -> str:
    """0.87341 -> "0.873"; ``digits`` decimals; missing or NaN -> an em dash."""
    number = _number(value)
    return MISSING if number is None else _fixed(number, int(digits), sign=False)


@register.filter
def signed(value, digits=3) -> str:
    """A difference with its sign: 0.1041 -> "+0.104", -0.012 -> "−0.012"."""
    number = _number(value)
    return MISSING if number is None else _fixed(number, int(digits), sign=True)


@register.filter
def pct(value, digits=1) -> str:
    """A fraction as a percentage: 0.8734 -> "87.3%"."""
    number = _number(value)
    return MISSING if number is None else f"{number * 100:.{int(digits)}f}%".replace("-", MINUS)


@register.filter
def points(value) -> str:
    """A difference of fractions in percentage points: 0.1041 -> "+10.4 percentage points"."""
    number = _number(value)
    return MISSING if number is None else f"{_fixed(number * 100, 1, sign=True)} percentage points"


def _ends(value) -> tuple[float | None, float | None]:
    ci = value.get("ci") if isinstance(value, dict) else value
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return None, None
    return _number(ci[0]), _number(ci[1])


def _interval(value, *, sign: bool) -> str:
    low, high = _ends(value)
    ends = f"[{_fixed(low, 3, sign=sign)}, {_fixed(high, 3, sign=sign)}]" if None not in (low, high) else ""
    if not isinstance(value, dict):
        return ends or MISSING
    point = _number(value.get("value"))
    if point is None:
        return ends or MISSING
    return f"{_fixed(point, 3, sign=sign)} {ends}".strip()


@register.filter
def interval(value) -> str:
    """A {"value", "ci"} entry -> "0.873 [0.851, 0.894]"; a bare [low, high] -> "[0.851, 0.894]"."""
    return _interval(value, sign=False)


@register.filter
def signed_interval(value) -> str:
    """A difference with its interval: "+0.104 [+0.043, +0.167]"."""
    return _interval(value, sign=True)


@register.filter
def change_class(entry, direction="higher") -> str:
    """The site's status class for a difference: green when its whole interval is an improvement, red when
    it is wholly a loss, "" when the interval includes no change."""
    low, high = _ends(entry)
    if low is None or high is None:
        return ""
    if direction == "lower":
        low, high = -high, -low
    return "s-approved" if low > 0 else "s-rejected" if high < 0 else ""


@register.filter
def pvalue(value) -> str:
    """A p-value as written in a sentence: "p = 0.031", "p < 0.001"."""
    number = _number(value)
    if number is None:
        return f"p = {MISSING}"
    return "p < 0.001" if number < 0.001 else f"p = {number:.3f}"


@register.filter
def psi_reading(value) -> str:
    """The usual reading of a population stability index."""
    number = _number(value)
    if number is None:
        return "not available"
    if number < 0.1:
        return "stable (under 0.1)"
    if number <= 0.25:
        return "a moderate shift (0.1 to 0.25)"
    return "a large shift (over 0.25)"


@register.filter
def entries(mapping) -> list[tuple]:
    """A mapping's (key, value) pairs. Use it instead of ``.items`` in templates: a class or slice called
    "items" would otherwise be looked up as a key."""
    return list(mapping.items()) if isinstance(mapping, dict) else []


@register.filter
def get(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def metric_name(metric) -> str:
    return charts.METRIC_NAMES.get(metric, str(metric or ""))


@register.filter
def metric_gloss(report) -> str:
    gloss = METRIC_GLOSS.get(report.get("metric"), "")
    return gloss.format(positive=f"\u201c{report.get('positive_label') or 'the positive class'}\u201d")


@register.filter
def direction_words(report) -> str:
    return "lower is better" if report.get("direction") == "lower" else "higher is better"


@register.filter
def verdict_words(report) -> str:
    return VERDICT_WORDS.get((report.get("delta") or {}).get("verdict"), "No verdict was reached.")


@register.filter
def verdict_class(report) -> str:
    return VERDICT_CLASS.get((report.get("delta") or {}).get("verdict"), "")


@register.filter
def reference_reason(report) -> str:
    """Why this model is the one the candidate must beat."""
    if report.get("reference_kind") == "production":
        return "the model in production"
    return f"the strongest baseline on {metric_name(report.get('metric'))}"


@register.filter
def model_label(report, name) -> str:
    model = (report.get("models") or {}).get(name) or {}
    return str(model.get("label") or name or "")


@register.filter
def when(value) -> str:
    """An ISO timestamp as "2025-03-04 10:15 UTC+00:00"; anything else as given."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    zone = f" UTC{moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}" if moment.tzinfo else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


@register.simple_tag
def chart(kind: str, report, *args) -> str:
    """``{% chart "delta" report %}``, ``{% chart "per_class" report "recall" %}``,
    ``{% chart "confusion" report "reference" %}``: the chart as inline SVG. Safe to mark so: the chart
    functions escape every text they write."""
    if not isinstance(report, dict) or not report:
        return ""
    return mark_safe(CHARTS[kind](report, *args))


@register.filter
def row_lists(report) -> list[tuple]:
    """The three lists of rows, each as (title, rows, complete count or None)."""
    return [("Broken by the candidate", report.get("regressions") or [], report.get("regressions_count")),
            ("Fixed by the candidate", report.get("improvements") or [], report.get("improvements_count")),
            ("The candidate's most confident mistakes", report.get("confident_errors") or [], None)]


@register.filter
def mix_rows(production) -> list[tuple]:
    """The predicted-label mix as (label, test rows, test share, production rows, production share)."""
    mix = (production or {}).get("predicted_mix") or {}
    test, live = mix.get("test") or {}, mix.get("production") or {}
    test_total, live_total = sum(test.values()) or None, sum(live.values()) or None
    return [(label, test.get(label, 0), test.get(label, 0) / test_total if test_total else None,
             live.get(label, 0), live.get(label, 0) / live_total if live_total else None)
            for label in dict.fromkeys([*test, *live])]


@register.filter
def css_string(value) -> str:
    """A quoted CSS string (for the record's running headers): every character but letters, digits and
    spaces written as a CSS escape, so no text can end the string or the style sheet."""
    text = "".join(c if c.isalnum() and c.isascii() or c == " " else f"\\{ord(c):x} " for c in str(value))
    return mark_safe(f'"{text}"')
