"""Tiny server-side SVG bar charts that print, go into PDFs and need no script.

Only presentation attributes are used (no style attributes), so a strict CSP allows them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

Number = int | float | Decimal
PALETTE = ("#2f6db5", "#d9822b", "#3a9a5b", "#b03a48", "#7a5cb0")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number | None]
    color: str | None = None


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 640,
    height: int = 220,
    title: str = "",
    label: str = "",
    value_format: Callable[[Number], str] = lambda v: f"{v:,.2f}",
) -> Markup:
    """An SVG chart of grouped bars over the labels, one bar per series in each group."""
    left, right, top, bottom = 56, 12, 24 if title else 10, 40 if len(series) > 1 else 28
    plot_w, plot_h = width - left - right, height - top - bottom
    numbers = [float(v) for s in series for v in s.values if v is not None]
    lo = min([0.0, *numbers])
    hi = _nice_max(max([0.0, *numbers]))
    span = (hi - lo) or 1.0
    n = max(1, len(labels))
    slot = plot_w / n

    def y(value: float) -> float:
        return top + plot_h - (value - lo) / span * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bar" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label or title or "chart")}">'
    ]
    if title:
        out.append(
            f'<text x="{left}" y="14" font-size="12" font-weight="bold" fill="#222">{escape(title)}</text>'
        )
    for i in range(5):  # grid lines and axis labels
        value = lo + span * i / 4
        yy = y(value)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(
            f'<text x="{left - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end" fill="#555">'
            f"{_short(value)}</text>"
        )
    for i, label in enumerate(labels):
        out.append(
            f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 14}" font-size="10" '
            f'text-anchor="middle" fill="#555">{escape(label)}</text>'
        )
    zero = y(max(lo, 0.0))
    for k, s in enumerate(series):
        color = s.color or PALETTE[k % len(PALETTE)]
        bar_w = slot * 0.8 / max(1, len(series))
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = left + slot * i + slot * 0.1 + bar_w * k
            top_y, bottom_y = sorted((y(float(v)), zero))
            out.append(
                f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar_w:.1f}" height="{bottom_y - top_y:.1f}" '
                f'fill="{color}"><title>{escape(labels[i])}: {escape(value_format(v))}</title></rect>'
            )
        if len(series) > 1:  # legend
            lx = left + k * 140
            out.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{color}"/>')
            out.append(
                f'<text x="{lx + 14}" y="{height - 3}" font-size="10" fill="#333">{escape(s.name)}</text>'
            )
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#888"/>')
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(labels: Sequence[str], values: Sequence[Number | None], **options: object) -> Markup:
    """One series of bars."""
    return chart(labels, [Series("", values)], **options)  # type: ignore[arg-type]
