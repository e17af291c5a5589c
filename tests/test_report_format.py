"""Money and numbers in the report follow the settings and read back to the exact value."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from bpo2_bridge.report.formatting import BLANK, NumberFormat

SEPARATORS = st.sampled_from([(" ", "."), (",", "."), (".", ","), ("'", "."), ("", ".")])
AMOUNTS = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False)


def parse(text: str, fmt: NumberFormat) -> Decimal:
    """Read a formatted figure back, as a person would."""
    text = text.replace(fmt.currency_symbol, "").strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-").strip()
    if fmt.thousands_separator:
        digits = digits.replace(fmt.thousands_separator, "")
    return sign * Decimal(digits.replace(fmt.decimal_separator, "."))


@given(amount=AMOUNTS, seps=SEPARATORS, symbol=st.sampled_from(["R", "$", "€", ""]))
def test_money_reads_back_to_the_rounded_value(amount: Decimal, seps: tuple[str, str], symbol: str) -> None:
    fmt = NumberFormat(symbol, *seps)
    text = fmt.money(amount)
    assert parse(text, fmt) == amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if symbol:
        assert text.lstrip("-").startswith(f"{symbol} ")
    whole = text.lstrip("-").replace(symbol, "").strip().rsplit(seps[1], 1)[0]
    if seps[0]:
        groups = whole.split(seps[0])
        assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3


@given(value=st.integers(-(10**12), 10**12))
def test_whole_numbers_group_in_threes(value: int) -> None:
    fmt = NumberFormat()
    assert fmt.number(value).replace(" ", "") == str(value)


def test_examples_and_blanks() -> None:
    fmt = NumberFormat()
    assert fmt.money(Decimal("12345.675")) == "R 12 345.68"
    assert fmt.money(Decimal("-1234.5")) == "-R 1 234.50"
    assert fmt.money(Decimal("0.0123"), 4) == "R 0.0123"
    assert fmt.percent(Decimal("94.95")) == "95.0%"
    assert fmt.money(None) == fmt.percent(None) == fmt.number(None) == BLANK
    assert NumberFormat("€", ".", ",").money(Decimal("1234567.8")) == "€ 1.234.567,80"
