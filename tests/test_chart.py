"""The one SVG bar chart (report and Customer Dashboard): every bar as tall as its amount on the
axis it draws, below the axis line when negative, and the amount in its tooltip."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bpo2_bridge.report.chart import HEIGHT, Series, bar_chart, sales_history_chart

SVG = "{http://www.w3.org/2000/svg}"
amounts = st.decimals(min_value=-50_000, max_value=2_000_000, places=2, allow_nan=False, allow_infinity=False)


def _axis(root: ET.Element) -> dict[float, Decimal]:
    """The axis labels (plain numbers here) by their height on the drawing."""
    out = {}
    for text in root.iter(f"{SVG}text"):
        if text.get("text-anchor") == "end":
            out[float(text.get("y", "0")) - 3] = Decimal(text.text or "0")
    return out


@given(st.lists(amounts, min_size=1, max_size=24))
def test_each_bar_is_as_tall_as_its_amount_on_the_drawn_axis(values: list[Decimal]) -> None:
    labels = [f"m{i}" for i in range(len(values))]
    svg = bar_chart(labels, [Series("Sales", values, "#000")], label="t", axis_text=str, value_text=str)
    root = ET.fromstring(str(svg))
    axis = _axis(root)
    (bottom, low), (top, high) = max(axis.items()), min(axis.items())
    assert low <= min([Decimal(0), *values]) and high >= max([Decimal(0), *values])
    per_unit = (bottom - top) / float(high - low)
    zero = bottom - float(-low) * per_unit
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == len(values)
    for i, (bar, value) in enumerate(zip(bars, values, strict=True)):
        y, height = float(bar.get("y", "0")), float(bar.get("height", "0"))
        assert abs(height - abs(float(value)) * per_unit) < 0.11  # drawn to a tenth of a pixel
        # a bar stands on the zero line, or hangs from it when the amount is negative
        edge = y if value < 0 else y + height
        assert abs(edge - zero) < 0.11
        tooltip = bar.find(f"{SVG}title")
        assert tooltip is not None and tooltip.text == f"m{i}: {value}"
        assert y >= 0 and y + height <= HEIGHT


def test_the_dashboard_chart_names_every_month_and_its_amount() -> None:
    history = [(f"M{i:02}", Decimal(i * 1000)) for i in range(12)]
    svg = str(sales_history_chart(history, lambda v: f"R {v:,.2f}"))
    assert 'aria-label="12 Months Sales History"' in svg
    assert all(f">M{i:02}<" in svg for i in range(12))
    assert "<title>M11: R 11,000.00</title>" in svg
    assert not re.search(r"<script|style=", svg)  # shows under the strict CSP, prints, goes into PDFs
