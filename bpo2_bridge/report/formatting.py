"""Numbers, money, percentages and dates as the report shows them, per the settings.

Money defaults to South African rand (``R 12 345.67``): currency_symbol, thousands_separator and
decimal_separator come from the settings. Rounding is half-up on Decimal, never through float.
The Jinja filters read a `NumberFormat` named ``numbers`` from the template context, so one
compiled environment serves every settings variant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

import jinja2

from ..settings import Settings

BLANK = "—"  # a figure that has no value (margin of a contract without revenue), never an error


@dataclass(frozen=True)
class NumberFormat:
    currency_symbol: str = "R"
    thousands_separator: str = " "
    decimal_separator: str = "."

    @classmethod
    def from_settings(cls, settings: Settings) -> NumberFormat:
        return cls(settings.currency_symbol, settings.thousands_separator, settings.decimal_separator)

    def number(self, value: Decimal | int | float | None, places: int = 0) -> str:
        """`value` rounded half-up to `places` decimals, digits grouped in threes."""
        if value is None:
            return BLANK
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        sign = "-" if rounded < 0 else ""
        whole, _, fraction = f"{abs(rounded):f}".partition(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        text = self.thousands_separator.join(groups)
        if places > 0:
            text += self.decimal_separator + fraction
        return sign + text

    def money(self, value: Decimal | int | float | None, places: int = 2) -> str:
        if value is None:
            return BLANK
        text = self.number(value, places)
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        symbol = f"{self.currency_symbol} " if self.currency_symbol else ""
        return f"{sign}{symbol}{digits}"

    def percent(self, value: Decimal | int | float | None, places: int = 1) -> str:
        if value is None:
            return BLANK
        return f"{self.number(value, places)}%"


def month_label(value: dt.date) -> str:
    """A month as the report names it: "Nov 2026"."""
    return value.strftime("%b %Y")


def date_label(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return BLANK
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


def _from_context(method: str) -> Callable[..., str]:
    @jinja2.pass_context
    def apply(context: jinja2.runtime.Context, value: Any, *args: Any) -> str:
        numbers: NumberFormat = context.get("numbers") or NumberFormat()
        return str(getattr(numbers, method)(value, *args))

    return apply


def install_filters(env: jinja2.Environment) -> None:
    """The report's filter set: money, number, percent, per_copy, month, date."""
    env.filters["money"] = _from_context("money")
    env.filters["number"] = _from_context("number")
    env.filters["percent"] = _from_context("percent")
    env.filters["per_copy"] = _per_copy
    env.filters["figure"] = _figure
    env.filters["month"] = month_label
    env.filters["date"] = date_label


@jinja2.pass_context
def _per_copy(context: jinja2.runtime.Context, value: Decimal | None) -> str:
    """Money per copy keeps four decimals: copier rates are fractions of a cent."""
    numbers: NumberFormat = context.get("numbers") or NumberFormat()
    return numbers.money(value, 4)


_KINDS = MappingProxyType(
    {
        "money": ("money", ()),
        "number": ("number", ()),
        "percent": ("percent", ()),
        "per_copy": ("money", (4,)),
    }
)


@jinja2.pass_context
def _figure(context: jinja2.runtime.Context, value: Any, kind: str = "money") -> str:
    """`value` formatted as the named kind: money, number, percent or per_copy."""
    numbers: NumberFormat = context.get("numbers") or NumberFormat()
    method, args = _KINDS[kind]
    return str(getattr(numbers, method)(value, *args))
