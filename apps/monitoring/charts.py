"""Small server-side SVG charts for the monitoring page: one signal over the windows, its threshold, and
the windows that breached. Standard library only; every label escaped."""
from html import escape

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 360, 120, 44, 12, 14, 22


def signal_chart(title: str, points: list[tuple[int, float | None, bool]], threshold: float | None) -> str:
    """``points``: (window index, value or None, breached) in window order."""
    values = [v for _, v, _ in points if v is not None] + ([threshold] if threshold is not None else [])
    if not values:
        return ""
    low, high = min(values + [0.0]), max(values)
    if high == low:
        high = low + 1.0
    span_x = max(1, len(points) - 1)

    def x(i: int) -> float:
        return PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * i / span_x

    def y(v: float) -> float:
        return PAD_TOP + (HEIGHT - PAD_TOP - PAD_BOTTOM) * (1 - (v - low) / (high - low))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)} by window">',
             f"<title>{escape(title)} by window</title>",
             f'<text x="{PAD_LEFT}" y="10" font-size="11" fill="#1d2330">{escape(title)}</text>',
             f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" y2="{HEIGHT - PAD_BOTTOM}" '
             'stroke="#c5ccd8"/>',
             f'<text x="{PAD_LEFT - 4}" y="{y(high) + 4:.1f}" font-size="9" text-anchor="end" fill="#5d6677">{high:.3g}</text>',
             f'<text x="{PAD_LEFT - 4}" y="{y(low) + 4:.1f}" font-size="9" text-anchor="end" fill="#5d6677">{low:.3g}</text>']
    if threshold is not None:
        parts.append(f'<line x1="{PAD_LEFT}" y1="{y(threshold):.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y(threshold):.1f}" '
                     f'stroke="#b42318" stroke-dasharray="4 3"><title>threshold {threshold:.3g}</title></line>')
        # The threshold's value printed on its line, so a reader need not hover to know it.
        parts.append(f'<text x="{WIDTH - PAD_RIGHT}" y="{y(threshold) - 3:.1f}" font-size="9" text-anchor="end" '
                     f'fill="#b42318">threshold {threshold:.3g}</text>')
    line = [(x(i), y(v)) for i, (_, v, _) in enumerate(points) if v is not None]
    if len(line) > 1:
        parts.append('<polyline fill="none" stroke="#2b5fd9" stroke-width="1.5" points="'
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in line) + '"/>')
    for i, (index, value, breached) in enumerate(points):
        if value is None:
            continue
        colour = "#b42318" if breached else "#2b5fd9"
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}">'
                     f'<title>window {index}: {value:.4g}{" (breached)" if breached else ""}</title></circle>')
        parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 6}" font-size="9" text-anchor="middle" fill="#5d6677">{index}</text>')
    parts.append("</svg>")
    return "".join(parts)
