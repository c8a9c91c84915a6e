"""Numbers in units people read: {% load units %}.

    {{ card.parameters|count_human }}      22.7 M      (k, M, B: thousands, millions, billions)
    {{ card.model_bytes|bytes_human }}     87.6 MB     (binary multiples, as the memory budgets are: 1 MB = 2^20 bytes)
    {{ job.seconds|duration_human }}       1 min 12 s
    {{ card.p95_latency_ms|ms }}           4.1 ms

Every filter answers "—" for None, text that is not a number, NaN and infinity, and keeps a minus sign.
"""
import math

from django import template

register = template.Library()

MISSING = "—"
MINUS = "−"


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _short(number: float) -> str:
    """Three significant figures at most, no trailing zeros beyond one decimal: 22.7, 4.4, 512, 1.0."""
    if number >= 100:
        return f"{number:.0f}"
    return f"{number:.1f}"


def _scaled(value, steps: tuple[tuple[float, str], ...], unit: str) -> str:
    """``value`` divided by the largest step it reaches (steps largest first), e.g. 22_700_000 -> "22.7 M"."""
    number = _number(value)
    if number is None:
        return MISSING
    sign, number = (MINUS if number < 0 else ""), abs(number)
    for index, (size, prefix) in enumerate(steps):
        if number >= size:
            if index > 0 and number / size >= 999.5:  # 999,600 reads "1.0 M", not "1000 k"
                size, prefix = steps[index - 1]
            return f"{sign}{_short(number / size)} {prefix}{unit}".rstrip()
    whole = f"{number:.0f}" if number == int(number) else f"{number:.1f}"
    return f"{sign}{whole} {unit}".rstrip()


_COUNT_STEPS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_BYTE_STEPS = ((2.0**50, "P"), (2.0**40, "T"), (2.0**30, "G"), (2.0**20, "M"), (2.0**10, "k"))


@register.filter
def count_human(value) -> str:
    """A count in thousands (k), millions (M), billions (B) or trillions (T): 22_700_000 -> "22.7 M";
    counts under 1,000 print whole ("512")."""
    return _scaled(value, _COUNT_STEPS, "")


@register.filter
def bytes_human(value) -> str:
    """A size in bytes with binary multiples: 91_855_872 -> "87.6 MB", 1_288_490_189 -> "1.2 GB", 512 -> "512 B"."""
    number = _number(value)
    if number is None:
        return MISSING
    if abs(number) < 1024:
        return f"{MINUS if number < 0 else ''}{abs(number):.0f} B"
    return _scaled(number, _BYTE_STEPS, "B")


@register.filter
def duration_human(value) -> str:
    """Seconds as "850 ms", "3.2 s", "1 min 12 s", "2 h 5 min" or "3 d 4 h"."""
    number = _number(value)
    if number is None:
        return MISSING
    sign, seconds = (MINUS if number < 0 else ""), abs(number)
    if seconds == 0:
        return "0 s"
    if seconds < 1:
        return f"{sign}{ms(seconds * 1000.0)}"
    if seconds < 59.95:
        return f"{sign}{seconds:.1f} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"
    if hours:
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    return f"{sign}{minutes} min {secs} s" if secs else f"{sign}{minutes} min"


@register.filter
def ms(value) -> str:
    """Milliseconds with as many decimals as make the figure readable: "412 ms", "4.1 ms", "0.05 ms",
    "<0.01 ms"; a second or more reads as seconds ("1.25 s")."""
    number = _number(value)
    if number is None:
        return MISSING
    sign, number = (MINUS if number < 0 else ""), abs(number)
    if number == 0:
        return "0 ms"
    if number >= 1000:
        return f"{sign}{number / 1000.0:.2f} s"
    if number >= 100:
        return f"{sign}{number:.0f} ms"
    if number >= 1:
        return f"{sign}{number:.1f} ms"
    if number >= 0.01:
        return f"{sign}{number:.2f} ms"
    return f"{sign}<0.01 ms"
