"""The report's chart: revenue against cost per month, drawn as SVG on the server.

Plain SVG (no script, no external font), so the same markup shows in the page, prints, and goes
into the PDF through WeasyPrint.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from markupsafe import Markup, escape

from .figures import Month
from .formatting import NumberFormat, month_label

WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 24, 34
REVENUE_COLOUR, COST_COLOUR = "#2f6db5", "#e0892b"


def _nice_top(value: Decimal) -> Decimal:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1000)
    exponent = value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)  # pragma: no cover - the loop always returns


def _axis_label(value: Decimal, numbers: NumberFormat) -> str:
    if value >= 1_000_000:
        return f"{numbers.money(value / 1_000_000, 1)}m"
    if value >= 1_000:
        return f"{numbers.money((value / 1_000).to_integral_value(ROUND_CEILING), 0)}k"
    return numbers.money(value, 0)


def revenue_cost_chart(months: list[Month], numbers: NumberFormat) -> Markup:
    """Grouped bars per month (revenue, cost) with a labelled money axis and a legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max([max(m.figures.revenue_total, m.figures.cost_total) for m in months] + [Decimal(0)])
    top = _nice_top(highest)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Revenue and cost per month">',
        '<g font-family="DejaVu Sans, sans-serif" font-size="9" fill="#333">',
    ]
    grid, labels = [], []
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        grid.append(f"M{LEFT} {y:.1f}H{WIDTH - RIGHT}")
        labels.append(
            f'<text x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">'
            f"{escape(_axis_label(top * i / 4, numbers))}</text>"
        )
    parts.append(f'<path d="{"".join(grid)}" stroke="#ddd" stroke-width="0.5" fill="none"/>')
    parts.extend(labels)
    # one path per series (not a rect per bar): far fewer elements for the PDF renderer to draw
    revenue_bars: list[str] = []
    cost_bars: list[str] = []
    if months:
        slot = plot_w / len(months)
        bar = max(1.0, min(14.0, slot * 0.38))
        every = max(1, -(-len(months) // 12))  # at most 12 month labels
        for i, month in enumerate(months):
            x = LEFT + i * slot + slot / 2
            for bars, offset, amount in (
                (revenue_bars, -bar, month.figures.revenue_total),
                (cost_bars, 0.0, month.figures.cost_total),
            ):
                h = float(max(amount, Decimal(0)) / top) * plot_h
                if h > 0:
                    bars.append(f"M{x + offset:.1f} {TOP + plot_h:.1f}v{-h:.1f}h{bar:.1f}v{h:.1f}z")
            if i % every == 0:
                parts.append(
                    f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 12}" text-anchor="middle">'
                    f"{escape(month_label(month.start))}</text>"
                )
    for bars, colour in ((revenue_bars, REVENUE_COLOUR), (cost_bars, COST_COLOUR)):
        if bars:
            parts.append(f'<path d="{"".join(bars)}" fill="{colour}"/>')
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#666"/>'
        f'<rect x="{LEFT}" y="6" width="10" height="10" fill="{REVENUE_COLOUR}"/>'
        f'<text x="{LEFT + 14}" y="14">Revenue</text>'
        f'<rect x="{LEFT + 70}" y="6" width="10" height="10" fill="{COST_COLOUR}"/>'
        f'<text x="{LEFT + 84}" y="14">Cost</text>'
        "</g></svg>"
    )
    return Markup("".join(parts))
