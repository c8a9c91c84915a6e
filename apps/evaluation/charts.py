"""Play 5's charts, drawn on the server as inline SVG from the evaluation report
(``workers.engine.evaluate.evaluation_report``).

Each public function takes the report dict and returns one complete ``<svg>`` element, the same markup for the
web page and for the printed sign-off record (WeasyPrint draws inline SVG itself, so no script and no image
file is involved). Every text written into the SVG goes through ``_text``; a missing, None or NaN number is
drawn as nothing and written as "n/a", never as a coordinate.

Plain Python on purpose: no Django, no plotting library, so the record renders the same wherever it runs.
"""
from __future__ import annotations

import math
import re
from html import escape

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "system-ui, -apple-system, Segoe UI, DejaVu Sans, Liberation Sans, sans-serif"

# The site's palette (static/css/playbook.css).
INK, MUTED, LINE, ACCENT = "#1d2330", "#5d6677", "#dde2ea", "#2b5fd9"
OK, BAD, WARN, GREY = "#1e7a46", "#b42318", "#9a6700", "#8a93a6"

# The verdicts of workers.engine.evaluation.verdict (a test keeps them equal; this module imports no engine).
BEATS = "beats the baseline by the margin"
BETTER = "better, but not by the margin"
INDISTINGUISHABLE = "indistinguishable"
WORSE = "worse"
VERDICT_COLOUR = {BEATS: OK, BETTER: WARN, INDISTINGUISHABLE: MUTED, WORSE: BAD}

METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy", "false_positive_rate": "false-positive rate"}
SCORE_NAMES = {"f1": "F1", "precision": "precision", "recall": "recall"}

# Characters XML 1.0 forbids even when escaped (control characters, lone surrogates, two non-characters).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LARGEST = 1e9  # a number beyond this is not a metric; it is written, never plotted


# --- small helpers -------------------------------------------------------------------------------------


def _text(value) -> str:
    """Any value as text that is safe inside an SVG element or a quoted attribute."""
    return escape(_NOT_XML.sub("", str(value)), quote=True)


def _finite(value) -> float | None:
    """The value as a float, or None when it is missing, not a number or infinite."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plottable(value) -> float | None:
    number = _finite(value)
    return number if number is not None and abs(number) <= _LARGEST else None


def _num(value, digits: int = 3, *, sign: bool = False) -> str:
    number = _finite(value)
    if number is None:
        return "n/a"
    if round(number, digits) == 0:
        number = 0.0  # no "-0.000"
    text = f"{number:+.{digits}f}" if sign else f"{number:.{digits}f}"
    return text.replace("-", "\u2212")


def _clip(text, limit: int) -> str:
    text = _NOT_XML.sub("", str(text))
    return text if len(text) <= limit else text[:max(limit - 1, 1)] + "\u2026"


def _entry(entry) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of a {"value", "ci"} entry, each None when missing or not a plottable number."""
    if not isinstance(entry, dict):
        return None, None, None
    ci = entry.get("ci")
    ci = list(ci) if isinstance(ci, (list, tuple)) else []
    low, high = (ci + [None, None])[:2]
    low, high = _plottable(low), _plottable(high)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return _plottable(entry.get("value")), low, high


def _interval_text(value, low, high, *, sign: bool) -> str:
    if low is None or high is None:
        return _num(value, sign=sign)
    return f"{_num(value, sign=sign)} [{_num(low, sign=sign)}, {_num(high, sign=sign)}]"


def _metric_name(report: dict) -> str:
    metric = report.get("metric")
    return METRIC_NAMES.get(metric, str(metric or "the metric"))


def _model_label(report: dict, name) -> str:
    model = (report.get("models") or {}).get(name) or {}
    return str(model.get("label") or name or "?")


def _attr(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return _text(value)


def _el(tag: str, content: str = "", **attrs) -> str:
    """An SVG element. ``content`` is markup already made safe; attribute names lose a trailing "_" and use
    "-" for "_" (``class_`` -> class, ``text_anchor`` -> text-anchor); None values are left out."""
    names = " ".join(f'{name.rstrip("_").replace("_", "-")}="{_attr(value)}"'
                     for name, value in attrs.items() if value is not None)
    opening = f"<{tag} {names}" if names else f"<{tag}"
    return f"{opening}>{content}</{tag}>" if content else f"{opening}/>"


def _label(x, y, text, *, size: float = 11, anchor: str = "start", fill: str = INK, **attrs) -> str:
    return _el("text", _text(text), x=float(x), y=float(y), font_size=float(size), text_anchor=anchor,
               fill=fill, **attrs)


def _clipped_label(x, y, text, limit: int, *, suffix: str = "", **attrs) -> str:
    """A label cut to ``limit`` characters (plus ``suffix``); the full text rides along as a tooltip when
    it was cut."""
    short = _clip(text, limit)
    if short == _NOT_XML.sub("", str(text)):
        return _label(x, y, short + suffix, **attrs)
    return _el("g", _el("title", _text(f"{text}{suffix}")) + _label(x, y, short + suffix, **attrs))


def _svg(width: int, height: int, label: str, body: str) -> str:
    # No inline style (the pages' Content-Security-Policy refuses it): the pages' and the printed record's
    # style sheets size it (.chart svg: max-width 100%, height auto).
    return (f'<svg xmlns="{SVG_NS}" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-label="{_text(label)}" font-family="{FONT}">'
            f"<title>{_text(label)}</title>{body}</svg>")


def _empty(label: str, message: str) -> str:
    return _svg(420, 40, label, _label(10, 24, message, fill=MUTED))


def _scale(domain: tuple[float, float], pixels: tuple[float, float]):
    """Linear map from data to pixels; give the pixels reversed to put larger values first."""
    (d0, d1), (p0, p1) = domain, pixels
    span = (d1 - d0) or 1.0
    return lambda value: p0 + (value - d0) / span * (p1 - p0)


def _step(span: float, count: int) -> float:
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def _domain(values, *, floor: float | None = None, ceiling: float | None = None,
            minimum_span: float = 0.02, count: int = 5) -> tuple[float, float, list[float]]:
    """A rounded range covering ``values`` (the None ones ignored) with a little room, and its ticks."""
    numbers = [v for v in values if v is not None] or [0.0, 1.0]
    low, high = min(numbers), max(numbers)
    room = max((high - low) * 0.08, minimum_span / 2)
    low, high = low - room, high + room
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    step = _step(high - low, count)
    low, high = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    ticks = [low + i * step for i in range(int(round((high - low) / step)) + 1)]
    return low, high, ticks


def _tick_digits(ticks: list[float]) -> int:
    if len(ticks) < 2:
        return 2
    step = abs(ticks[1] - ticks[0])
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    return min(digits + (1 if round(step / 10 ** math.floor(math.log10(step) + 1e-9), 6) == 2.5 else 0), 6)


def _x_axis(ticks, x, *, top: float, bottom: float, sign: bool = False) -> str:
    """Vertical grid lines at the ticks and their numbers under the plot."""
    digits = _tick_digits(ticks)
    parts = []
    for tick in ticks:
        parts.append(_el("line", x1=x(tick), x2=x(tick), y1=float(top), y2=float(bottom), stroke=LINE))
        parts.append(_label(x(tick), bottom + 14, _num(tick, digits, sign=sign and tick != 0), size=10,
                            anchor="middle", fill=MUTED))
    return "".join(parts)


def _interval_mark(x, y: float, value, low, high, *, colour: str, height: float, radius: float,
                   class_: str) -> str:
    """An interval as a bar (at least 2 px wide, so equal ends still show) with the point on it."""
    parts = []
    if low is not None and high is not None:
        left, right = sorted((x(low), x(high)))
        width = max(right - left, 2.0)
        parts.append(_el("rect", class_=f"interval {class_}".strip(), x=left - (width - (right - left)) / 2,
                         y=y - height / 2, width=width, height=float(height), rx=float(min(height / 2, 3)),
                         fill=colour, fill_opacity="0.3", stroke=colour, data_low=low, data_high=high))
    if value is not None:
        parts.append(_el("circle", class_=f"point {class_}".strip(), cx=x(value), cy=float(y),
                         r=float(radius), fill=colour, stroke="#fff", data_value=value))
    return "".join(parts)


def _better_caption(left: float, right: float, y: float, caption: str) -> str:
    """"← worse" and "better →" at the axis's two ends, the caption centred on the line below."""
    return (_label(left, y, "\u2190 worse", size=10, fill=MUTED)
            + _label(right, y, "better \u2192", size=10, anchor="end", fill=OK, font_weight="bold")
            + _label((left + right) / 2, y + 14, caption, size=10, anchor="middle", fill=MUTED))


# --- the forest plot of the difference -----------------------------------------------------------------

DELTA_WIDTH, DELTA_LEFT, DELTA_RIGHT, DELTA_TEXT = 700, 170, 500, 512


def _delta_rows(report: dict) -> list[dict]:
    """The candidate's difference first (coloured by its verdict), then every other model's, smaller."""
    delta = report.get("delta") or {}
    candidate, reference = report.get("candidate"), report.get("reference")
    rows = [{"label": _model_label(report, candidate), "main": True,
             "colour": VERDICT_COLOUR.get(delta.get("verdict"), ACCENT), "entry": _entry(delta)}]
    for name, model in (report.get("models") or {}).items():
        if name in (candidate, reference) or not isinstance(model, dict):
            continue
        rows.append({"label": _model_label(report, name), "main": False, "colour": GREY,
                     "entry": _entry(model.get("vs_reference"))})
    return rows


def delta_chart(report: dict) -> str:
    """Forest plot: the candidate's difference from the reference (point and 95% interval) against "no
    difference" and the margin committed in Play 1. Better is always to the right: for a lower-is-better
    metric the axis runs from positive to negative. The other models' differences follow as smaller rows."""
    lower = report.get("direction") == "lower"
    margin = _plottable(report.get("margin"))
    goal = None if margin is None else (-margin if lower else margin)  # the margin in candidate − reference
    rows = _delta_rows(report)
    top, main_h, other_h = 48, 40, 24
    bottom = top + main_h + other_h * (len(rows) - 1) + 6
    height = int(bottom + 60)
    values = [0.0, goal] + [v for row in rows for v in row["entry"]]
    low, high, ticks = _domain(values, minimum_span=0.04)
    x = _scale((low, high), (DELTA_RIGHT, DELTA_LEFT) if lower else (DELTA_LEFT, DELTA_RIGHT))
    better_edge = DELTA_RIGHT
    parts = []
    if goal is not None:
        left, right = sorted((x(goal), better_edge))
        parts.append(_el("rect", x=left, y=float(top - 6), width=right - left, height=float(bottom - top + 6),
                         fill=OK, fill_opacity="0.07"))
    parts.append(_x_axis(ticks, x, top=top - 6, bottom=bottom, sign=True))
    parts.append(_el("line", class_="zero", x1=x(0.0), x2=x(0.0), y1=14.0, y2=float(bottom), stroke=INK,
                     stroke_width="1.5", data_value=0))
    parts.append(_label(x(0.0), 11, "no difference", size=10, anchor="middle"))
    if goal is not None:
        gx = x(goal)
        text = f"margin committed in Play 1 ({_num(goal, sign=True)})"
        fits_right = gx + 4 + len(text) * 5.6 <= DELTA_WIDTH  # the label reads into the "better" side
        parts.append(_el("line", class_="margin", x1=gx, x2=gx, y1=28.0, y2=float(bottom), stroke=OK,
                         stroke_width="1.5", stroke_dasharray="5 3", data_value=goal))
        parts.append(_label(gx + (4 if fits_right else -4), 26, text, size=10,
                            anchor="start" if fits_right else "end", fill=OK))
    y = float(top)
    for row in rows:
        row_h = main_h if row["main"] else other_h
        centre = y + row_h / 2
        parts.append(_delta_row(row, x, centre))
        y += row_h
    parts.append(_label(DELTA_TEXT, top - 10, "difference [95% interval]", size=10, fill=MUTED))
    parts.append(_better_caption(DELTA_LEFT, DELTA_RIGHT, bottom + 32,
                                 f"difference in {_metric_name(report)} (candidate \u2212 reference)"))
    return _svg(DELTA_WIDTH, height, _delta_summary(report, goal), "".join(parts))


def _delta_row(row: dict, x, centre: float) -> str:
    value, low, high = row["entry"]
    main = row["main"]
    size = 12 if main else 10.5
    weight = "bold" if main else None
    parts = [_clipped_label(DELTA_LEFT - 10, centre + 4, row["label"], 21 if main else 26, size=size, anchor="end",
                            font_weight=weight)]
    if value is None and (low is None or high is None):
        parts.append(_label(DELTA_LEFT + 8, centre + 4, "no value", size=10, fill=MUTED))
    parts.append(_interval_mark(x, centre, value, low, high, colour=row["colour"], height=12 if main else 6,
                                radius=6 if main else 3.5, class_="main" if main else "other"))
    parts.append(_label(DELTA_TEXT, centre + 4, _interval_text(value, low, high, sign=True), size=size,
                        fill=row["colour"] if main else MUTED, font_weight=weight))
    return "".join(parts)


def _delta_summary(report: dict, goal) -> str:
    value, low, high = _entry(report.get("delta"))
    verdict = (report.get("delta") or {}).get("verdict") or "no verdict"
    return (f"Difference in {_metric_name(report)}, candidate minus reference: {_num(value, sign=True)}, "
            f"95% interval {_num(low, sign=True)} to {_num(high, sign=True)}; margin committed in Play 1: "
            f"{_num(goal, sign=True)}. Verdict: {verdict}.")


# --- every model's score -------------------------------------------------------------------------------

MODELS_WIDTH, MODELS_LEFT, MODELS_RIGHT, MODELS_TEXT = 700, 190, 520, 532


def _model_rows(report: dict) -> list[dict]:
    """Every model, best first in the metric's direction (the ones without a value last)."""
    lower = report.get("direction") == "lower"
    rows = []
    for name, model in (report.get("models") or {}).items():
        if not isinstance(model, dict):
            continue
        kind = "candidate" if name == report.get("candidate") else (
            "reference" if name == report.get("reference") else "other")
        rows.append({"name": name, "label": _model_label(report, name), "kind": kind, "entry": _entry(model)})

    def order(row):
        value = row["entry"][0]
        return (value is None, 0.0 if value is None else (value if lower else -value))

    return sorted(rows, key=order)


def models_chart(report: dict) -> str:
    """Every model's committed metric with its 95% interval; the candidate highlighted, the reference marked
    with a dashed line. Better is to the right."""
    rows = _model_rows(report)
    if not rows:
        return _empty("No models to show", "No models were scored.")
    lower = report.get("direction") == "lower"
    top, row_h = 30, 32
    bottom = top + row_h * len(rows) + 4
    low, high, ticks = _domain([v for row in rows for v in row["entry"]], floor=0.0, ceiling=1.0)
    x = _scale((low, high), (MODELS_RIGHT, MODELS_LEFT) if lower else (MODELS_LEFT, MODELS_RIGHT))
    parts = [_x_axis(ticks, x, top=top - 4, bottom=bottom)]
    reference = next((row for row in rows if row["kind"] == "reference"), None)
    if reference is not None and reference["entry"][0] is not None:
        rx = x(reference["entry"][0])
        parts.append(_el("line", class_="reference-line", x1=rx, x2=rx, y1=float(top - 12), y2=float(bottom),
                         stroke=INK, stroke_dasharray="4 3"))
        parts.append(_label(rx, top - 15, "reference", size=10, anchor="middle"))
    parts.append(_label(MODELS_TEXT, top - 15, f"{_metric_name(report)} [95% interval]", size=10, fill=MUTED))
    for i, row in enumerate(rows):
        parts.append(_model_row(row, x, top + row_h * i + row_h / 2))
    parts.append(_better_caption(MODELS_LEFT, MODELS_RIGHT, bottom + 32, _metric_name(report)))
    summary = "; ".join(f"{row['label']}: {_num(row['entry'][0])}" for row in rows)
    return _svg(MODELS_WIDTH, int(bottom + 60), f"{_metric_name(report)} of every model on the test rows. "
                                                  f"{summary}", "".join(parts))


def _model_row(row: dict, x, centre: float) -> str:
    value, low, high = row["entry"]
    candidate = row["kind"] == "candidate"
    colour = {"candidate": ACCENT, "reference": INK}.get(row["kind"], GREY)
    weight = "bold" if candidate else None
    parts = []
    if candidate:
        parts.append(_el("rect", x=4.0, y=centre - 15, width=float(MODELS_WIDTH - 8), height=30.0, rx=4.0,
                         fill=ACCENT, fill_opacity="0.07"))
    if row["kind"] == "other":
        parts.append(_clipped_label(MODELS_LEFT - 10, centre + 4, row["label"], 28, size=11, anchor="end",
                                    fill=colour))
    else:  # the label, and under it the part this model plays
        parts.append(_clipped_label(MODELS_LEFT - 10, centre, row["label"], 24 if candidate else 28, size=11, anchor="end",
                                    font_weight=weight, fill=colour))
        parts.append(_label(MODELS_LEFT - 10, centre + 11, row["kind"], size=9, anchor="end", fill=colour,
                            class_="role"))
    parts.append(_interval_mark(x, centre, value, low, high, colour=colour, height=10 if candidate else 7,
                                radius=5.5 if candidate else 4, class_=row["kind"]))
    parts.append(_label(MODELS_TEXT, centre + 4, _interval_text(value, low, high, sign=False), size=11,
                        fill=colour, font_weight=weight))
    return "".join(parts)


# --- per class -----------------------------------------------------------------------------------------

CLASS_WIDTH, CLASS_LEFT, CLASS_RIGHT, CLASS_TEXT = 720, 190, 580, 596


def per_class_chart(report: dict, score: str = "f1") -> str:
    """Per class, the reference's and the candidate's ``score`` (precision, recall or F1) as bars with
    their 95% intervals as whiskers, and the change, coloured when its interval excludes zero."""
    if score not in SCORE_NAMES:
        raise ValueError(f"unknown score {score!r}; expected one of {sorted(SCORE_NAMES)}")
    classes = [(label, entry) for label, entry in (report.get("per_class") or {}).items()
               if isinstance(entry, dict)]
    name = SCORE_NAMES[score]
    if not classes:
        return _empty(f"{name} per class", "No classes to show.")
    top, row_h = 44, 30
    bottom = top + row_h * len(classes) + 2
    x = _scale((0.0, 1.0), (CLASS_LEFT, CLASS_RIGHT))
    parts = [_x_axis([i / 5 for i in range(6)], x, top=top - 4, bottom=bottom), _class_legend(name)]
    for i, (label, entry) in enumerate(classes):
        parts.append(_class_row(label, entry, score, x, top + row_h * i))
    parts.append(_label((CLASS_LEFT + CLASS_RIGHT) / 2, bottom + 32, f"{name} (0 to 1; higher is better)",
                        size=10, anchor="middle", fill=MUTED))
    summary = "; ".join(f"{label}: reference {_num(_score(entry, score, 'reference'))}, "
                        f"candidate {_num(_score(entry, score, 'candidate'))}" for label, entry in classes)
    return _svg(CLASS_WIDTH, int(bottom + 44), f"{name} per class, reference and candidate. {summary}",
                "".join(parts))


def _score(entry: dict, score: str, model: str) -> float | None:
    scores = entry.get(score)
    return _entry(scores.get(model))[0] if isinstance(scores, dict) else None


def _class_legend(name: str) -> str:
    return (_el("rect", x=float(CLASS_LEFT), y=8.0, width=12.0, height=9.0, fill=GREY)
            + _label(CLASS_LEFT + 17, 16, "reference", size=10)
            + _el("rect", x=float(CLASS_LEFT + 90), y=8.0, width=12.0, height=9.0, fill=ACCENT)
            + _label(CLASS_LEFT + 107, 16, "candidate", size=10)
            + _label(CLASS_LEFT + 180, 16, "lines: 95% interval", size=10, fill=MUTED)
            + _label(CLASS_TEXT, 30, f"change in {name}", size=10, fill=MUTED))


def _class_row(label, entry: dict, score: str, x, y: float) -> str:
    scores = entry.get(score) if isinstance(entry.get(score), dict) else {}
    support = entry.get("support")
    parts = [_clipped_label(CLASS_LEFT - 10, y + 19, label, 28, size=11, anchor="end")]
    for offset, model, colour in ((5.0, "reference", GREY), (15.0, "candidate", ACCENT)):
        value, low, high = _entry(scores.get(model))
        parts.append(_class_bar(x, y + offset, value, low, high, colour, model))
    change, low, high = _entry(scores.get("delta"))
    colour = OK if low is not None and low > 0 else BAD if high is not None and high < 0 else MUTED
    rows = f" ({support} rows)" if _finite(support) is not None else ""
    tooltip = f"{label}{rows}: change {_interval_text(change, low, high, sign=True)}"
    parts.append(_el("g", _el("title", _text(tooltip))
                     + _label(CLASS_TEXT, y + 19, _num(change, sign=True), size=11, fill=colour)))
    return "".join(parts)


def _class_bar(x, y: float, value, low, high, colour: str, model: str) -> str:
    height = 9.0
    parts = []
    if value is not None:
        width = max(x(min(max(value, 0.0), 1.0)) - x(0.0), 0.0)
        parts.append(_el("rect", class_=f"bar {model}", x=x(0.0), y=y, width=width, height=height,
                         fill=colour, data_value=value))
    else:
        parts.append(_label(x(0.0) + 4, y + 8, "n/a", size=9, fill=MUTED))
    if low is not None and high is not None:
        left, right = x(min(max(low, 0.0), 1.0)), x(min(max(high, 0.0), 1.0))
        mid = y + height / 2
        whisker = _el("line", x1=left, x2=right, y1=mid, y2=mid, stroke=INK)
        caps = "".join(_el("line", x1=edge, x2=edge, y1=mid - 3, y2=mid + 3, stroke=INK)
                       for edge in (left, right))
        parts.append(_el("g", whisker + caps, class_="whisker"))
    return "".join(parts)


# --- calibration ---------------------------------------------------------------------------------------

PANEL, PANEL_TOP, PANEL_LEFT, PANEL_GAP = 250, 50, 58, 84


def reliability_chart(report: dict) -> str:
    """Reliability diagrams before and after temperature scaling: per confidence bin, the share of rows the
    candidate got right, against the diagonal of perfect calibration. "" when there is no calibration."""
    calibration = report.get("calibration")
    if not isinstance(calibration, dict):
        return ""
    before, after = calibration.get("before") or {}, calibration.get("after") or {}
    temperature = _num(calibration.get("temperature"), 2)
    panels = [(PANEL_LEFT, "Before temperature scaling", before, GREY),
              (PANEL_LEFT + PANEL + PANEL_GAP, f"After temperature scaling (T = {temperature})", after,
               ACCENT)]
    body = "".join(_reliability_panel(left, title, part, colour) for left, title, part, colour in panels)
    width = PANEL_LEFT + 2 * PANEL + PANEL_GAP + 30
    height = PANEL_TOP + PANEL + 66
    legend_y = PANEL_TOP + PANEL + 56
    body += (_el("rect", x=float(PANEL_LEFT), y=legend_y - 9.0, width=12.0, height=9.0, fill=BAD,
                 fill_opacity="0.25", stroke=BAD)
             + _label(PANEL_LEFT + 17, legend_y, "gap between how sure the model was and how often it was "
                                                 "right", size=10, fill=MUTED))
    label = (f"Reliability before and after temperature scaling (T = {temperature}): expected calibration "
             f"error {_num(before.get('ece'))} before, {_num(after.get('ece'))} after.")
    return _svg(width, height, label, body)


def _reliability_panel(left: float, title: str, part: dict, colour: str) -> str:
    x = _scale((0.0, 1.0), (left, left + PANEL))
    y = _scale((0.0, 1.0), (PANEL_TOP + PANEL, PANEL_TOP))
    parts = [_el("rect", x=float(left), y=float(PANEL_TOP), width=float(PANEL), height=float(PANEL),
                 fill="#fff", stroke=LINE)]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(_el("line", x1=x(tick), x2=x(tick), y1=float(PANEL_TOP), y2=float(PANEL_TOP + PANEL),
                         stroke=LINE))
        parts.append(_el("line", x1=float(left), x2=float(left + PANEL), y1=y(tick), y2=y(tick), stroke=LINE))
        parts.append(_label(x(tick), PANEL_TOP + PANEL + 14, f"{tick:.0%}", size=9.5, anchor="middle",
                            fill=MUTED))
        parts.append(_label(left - 5, y(tick) + 3, f"{tick:.0%}", size=9.5, anchor="end", fill=MUTED))
    bins = part.get("reliability") if isinstance(part.get("reliability"), list) else []
    parts.extend(_reliability_bin(b, x, y, colour) for b in bins if isinstance(b, dict))
    parts.append(_el("line", class_="diagonal", x1=x(0.0), x2=x(1.0), y1=y(0.0), y2=y(1.0), stroke=INK,
                     stroke_dasharray="5 4"))
    # The key to the diagonal, in the top-left corner (low confidence, mostly right: where bins are rare).
    parts.append(_el("line", x1=x(0.04), x2=x(0.13), y1=y(0.94), y2=y(0.94), stroke=INK,
                     stroke_dasharray="5 4"))
    parts.append(_label(x(0.15), y(0.94) + 3.5, "perfect calibration", size=9.5))
    parts.append(_label(left, PANEL_TOP - 22, title, size=11, font_weight="bold"))
    scores = f"ECE {_num(part.get('ece'))} \u00b7 Brier {_num(part.get('brier'))}"
    parts.append(_label(left, PANEL_TOP - 8, scores, size=10, fill=MUTED))
    parts.append(_label(left + PANEL / 2, PANEL_TOP + PANEL + 30, "how sure the model said it was", size=10,
                        anchor="middle", fill=MUTED))
    mid = PANEL_TOP + PANEL / 2
    parts.append(_label(left - 38, mid, "share it got right", size=10, anchor="middle", fill=MUTED,
                        transform=f"rotate(-90 {left - 38:.1f} {mid:.1f})"))
    return "".join(parts)


def _reliability_bin(b: dict, x, y, colour: str) -> str:
    low, high = _plottable(b.get("low")), _plottable(b.get("high"))
    accuracy, confidence = _plottable(b.get("accuracy")), _plottable(b.get("confidence"))
    if low is None or high is None or accuracy is None:
        return ""
    low, high = sorted((min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)))
    accuracy = min(max(accuracy, 0.0), 1.0)
    left, width = x(low) + 1, max(x(high) - x(low) - 2, 1.0)
    parts = [_el("title", _text(f"confidence {_num(low, 2)}\u2013{_num(high, 2)}: {b.get('rows', '?')} rows, "
                                f"mean confidence {_num(confidence)}, right {_num(accuracy)}"))]
    parts.append(_el("rect", class_="bin", x=left, y=y(accuracy), width=width, height=y(0.0) - y(accuracy),
                     fill=colour, fill_opacity="0.75"))
    if confidence is not None:
        confidence = min(max(confidence, 0.0), 1.0)
        gap_top, gap_bottom = sorted((y(confidence), y(accuracy)))
        if gap_bottom - gap_top >= 0.5:
            parts.append(_el("rect", class_="gap", x=left, y=gap_top, width=width,
                             height=gap_bottom - gap_top, fill=BAD, fill_opacity="0.25", stroke=BAD,
                             stroke_width="0.6"))
    return _el("g", "".join(parts))


# --- the confusion matrix ------------------------------------------------------------------------------


def _mix(colour: str, share: float) -> str:
    """``colour`` laid over white at ``share`` (0..1)."""
    share = min(max(share, 0.0), 1.0)
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 + (c - 255) * share):02x}" for c in rgb)


def _matrix(report: dict, model: str, k: int) -> list[list[int]]:
    """The model's k×k counts, every missing or unreadable cell 0."""
    given = (report.get("confusion") or {}).get(model)
    given = given if isinstance(given, list) else []
    matrix = []
    for i in range(k):
        row = given[i] if i < len(given) and isinstance(given[i], list) else []
        matrix.append([int(_finite(row[j]) or 0) if j < len(row) else 0 for j in range(k)])
    return matrix


NUMBERED = 12  # above this many classes the columns carry numbers, the rows "number label"


def confusion_heatmap(report: dict, model: str = "candidate") -> str:
    """The confusion matrix (rows: the true label; columns: the predicted one), each cell shaded by its
    share of the true label's rows, green on the diagonal (right) and red off it (mistaken), with the count
    written in. Scales to about 30 classes: smaller cells and type, numbered columns, long labels cut with the
    full text as a tooltip."""
    labels = [str(label) for label in ((report.get("confusion") or {}).get("labels") or [])]
    k = len(labels)
    who = "Candidate" if model == "candidate" else "Reference" if model == "reference" else str(model)
    if k == 0:
        return _empty(f"{who}: confusion matrix", "No classes to show.")
    numbered = k > NUMBERED
    cell = max(16, min(40, 600 // k))
    font = max(6.5, min(12.0, cell * 0.36))
    chars = 28 if numbered else 24
    names = [f"{i + 1}  {label}" if numbered else label for i, label in enumerate(labels)]
    label_px = min(max(len(name) for name in names), chars) * font * 0.62
    left = int(label_px + 34)
    top = 52 if numbered else int(min(max(len(label) for label in labels), chars) * font * 0.48 + 48)
    width, height = left + k * cell + 60, top + k * cell + 34
    heading = "predicted label \u2192" + (" (numbered as the rows)" if numbered else "")
    parts = [_label(left, 14, heading, size=10, fill=MUTED),
             _label(12, top + k * cell / 2, "true label \u2192", size=10, anchor="middle", fill=MUTED,
                    transform=f"rotate(90 12 {top + k * cell / 2:.1f})"),
             _label(left + k * cell + 8, top - 6, "rows", size=max(font, 8), fill=MUTED)]
    for i, label in enumerate(labels):
        cx, cy = left + i * cell + cell / 2, top + i * cell + cell / 2
        parts.append(_clipped_label(left - 6, cy + font / 3, names[i], chars, size=font, anchor="end"))
        if numbered:
            number = _label(cx, top - 6, i + 1, size=font, anchor="middle")
            parts.append(_el("g", _el("title", _text(label)) + number))
        else:
            parts.append(_clipped_label(cx + font / 3, top - 6, label, chars, size=font,
                                        transform=f"rotate(-50 {cx + font / 3:.1f} {top - 6:.1f})"))
    for i, row in enumerate(_matrix(report, model, k)):
        total = sum(row)
        for j, count in enumerate(row):
            parts.append(_cell(labels[i], labels[j], count, total, left + j * cell, top + i * cell, cell,
                               font, diagonal=i == j))
        parts.append(_label(left + k * cell + 8, top + i * cell + cell / 2 + font / 3, total, size=font,
                            fill=MUTED))
    parts.append(_label(8, height - 10, "shade: share of the true label's rows \u00b7 green: right \u00b7 "
                                        "red: mistaken for another label", size=10, fill=MUTED))
    return _svg(max(width, 520), height, f"{who}: confusion matrix of {k} classes, true label by row, "
                                         f"predicted label by column", "".join(parts))


def _cell(true, predicted, count: int, total: int, x: float, y: float, cell: int, font: float, *,
          diagonal: bool) -> str:
    share = count / total if total else 0.0
    fill = _mix(OK if diagonal else BAD, share * 0.9) if count else "#fff"
    tooltip = f"true {true}, predicted {predicted}: {count} of {total} rows"
    tooltip += f" ({share:.0%})" if total else ""
    parts = [_el("title", _text(tooltip)),
             _el("rect", x=float(x), y=float(y), width=float(cell), height=float(cell), fill=fill,
                 stroke=LINE)]
    if count:
        parts.append(_label(x + cell / 2, y + cell / 2 + font / 3, count, size=font, anchor="middle",
                            fill="#fff" if share > 0.5 else INK))
    return _el("g", "".join(parts), class_="cell" + (" diagonal" if diagonal else ""))
