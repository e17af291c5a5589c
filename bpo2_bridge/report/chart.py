"""Bar charts drawn as SVG on the server: the report's revenue against cost per month, and the
Customer Dashboard's 12 months of sales.

Plain SVG with presentation attributes only (no script, no style attribute, no external font),
so the same markup shows in a page under a strict CSP, prints, and goes into the PDF through
WeasyPrint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from markupsafe import Markup, escape

from .figures import Month
from .formatting import NumberFormat, month_label

Number = Decimal | int | float
WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 24, 34
REVENUE_COLOUR, COST_COLOUR = "#2f6db5", "#e0892b"
MOST_LABELS = 12  # month labels under the bars, at most


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number | None]
    colour: str


def nice_top(value: Decimal) -> Decimal:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return Decimal(1000)
    exponent = value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)  # pragma: no cover - the loop always returns


def short_amount(value: Decimal) -> str:
    """An axis amount without currency: 2.5m, 400k, 750."""
    for limit, suffix in ((Decimal(1_000_000_000), "bn"), (Decimal(1_000_000), "m"), (Decimal(1_000), "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label: str,
    axis_text: Callable[[Decimal], str] = short_amount,
    value_text: Callable[[Decimal], str] | None = None,
    css_class: str = "chart",
) -> Markup:
    """Grouped bars, one group per label and one bar per series, over an axis from zero (or the
    lowest value below it) to a round top; a legend when there are several series.

    Without ``value_text`` each series is one path (far fewer elements for the PDF renderer);
    with it, each bar is a rectangle whose tooltip says its label and value."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    numbers = [Decimal(str(v)) for s in series for v in s.values if v is not None]
    low = min([Decimal(0), *numbers])
    top = nice_top(max([Decimal(0), *numbers]))
    span = top - low

    def y(value: Decimal) -> float:
        return TOP + plot_h - float((value - low) / span) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">',
        '<g font-family="DejaVu Sans, sans-serif" font-size="9" fill="#333">',
    ]
    grid = []
    for i in range(5):
        value = low + span * i / 4
        grid.append(f"M{LEFT} {y(value):.1f}H{WIDTH - RIGHT}")
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(value) + 3:.1f}" text-anchor="end">{escape(axis_text(value))}</text>'
        )
    parts.insert(2, f'<path d="{"".join(grid)}" stroke="#ddd" stroke-width="0.5" fill="none"/>')
    zero = y(Decimal(0))
    if labels:
        slot = plot_w / len(labels)
        bar = max(1.0, min(14.0, slot * 0.76 / max(1, len(series))))
        every = max(1, -(-len(labels) // MOST_LABELS))
        for i, text in enumerate(labels):
            if i % every == 0:
                x = LEFT + i * slot + slot / 2
                parts.append(
                    f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 12}" text-anchor="middle">{escape(text)}</text>'
                )
        for k, s in enumerate(series):
            bars = []
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                amount = Decimal(str(v))
                x = LEFT + i * slot + slot / 2 - bar * len(series) / 2 + bar * k
                upper, lower = sorted((y(amount), zero))
                if value_text is not None:
                    tip = f"{labels[i]}: {value_text(amount)}"
                    parts.append(
                        f'<rect x="{x:.1f}" y="{upper:.1f}" width="{bar:.1f}" height="{lower - upper:.1f}" '
                        f'fill="{s.colour}"><title>{escape(tip)}</title></rect>'
                    )
                elif lower > upper:
                    bars.append(f"M{x:.1f} {lower:.1f}V{upper:.1f}h{bar:.1f}V{lower:.1f}z")
            if bars:
                parts.append(f'<path d="{"".join(bars)}" fill="{s.colour}"/>')
    parts.append(f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}" stroke="#666"/>')
    if len(series) > 1:
        for k, s in enumerate(series):
            x = LEFT + k * 70
            parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{s.colour}"/>')
            parts.append(f'<text x="{x + 14}" y="14">{escape(s.name)}</text>')
    parts.append("</g></svg>")
    return Markup("".join(parts))


def revenue_cost_chart(months: list[Month], numbers: NumberFormat) -> Markup:
    """The report's chart: revenue and cost per month on a money axis."""

    def axis(value: Decimal) -> str:
        if value >= 1_000_000:
            return f"{numbers.money(value / 1_000_000, 1)}m"
        if value >= 1_000:
            return f"{numbers.money((value / 1_000).to_integral_value(ROUND_CEILING), 0)}k"
        return numbers.money(value, 0)

    return bar_chart(
        [month_label(m.start) for m in months],
        [
            Series("Revenue", [m.figures.revenue_total for m in months], REVENUE_COLOUR),
            Series("Cost", [m.figures.cost_total for m in months], COST_COLOUR),
        ],
        label="Revenue and cost per month",
        axis_text=axis,
        css_class="report-chart",
    )


def sales_history_chart(history: Sequence[tuple[str, Number]], money: Callable[[Number], str]) -> Markup:
    """The Customer Dashboard's 12 Months Sales History: one bar per month, each with its amount."""
    return bar_chart(
        [month for month, _ in history],
        [Series("Sales", [amount for _, amount in history], REVENUE_COLOUR)],
        label="12 Months Sales History",
        value_text=money,
        css_class="chart chart-bar",
    )
