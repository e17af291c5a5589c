"""Address fields of the Emailer: what is accepted, what is refused with a clear message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpo2_bridge.report.mailer import MAX_RECIPIENTS, InvalidAddress, parse_addresses

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
DOMAIN = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10), min_size=2, max_size=4
).map(".".join)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)


@given(addresses=st.lists(ADDRESSES, min_size=1, max_size=5), sep=st.sampled_from([",", ";", ", ", " ; "]))
def test_valid_lists_come_back_in_order(addresses: list[str], sep: str) -> None:
    assert parse_addresses(sep.join(addresses), "To", required=True) == addresses


def test_display_names_are_kept() -> None:
    assert parse_addresses("Pat Buyer <pat@customer.test>", "To", required=True) == [
        "Pat Buyer <pat@customer.test>"
    ]


@pytest.mark.parametrize(
    "raw", ["not an address", "pat@", "@customer.test", "pat@localhost", "pat@customer.test <x", "a b@c.test"]
)
def test_invalid_addresses_are_refused_with_the_field_name(raw: str) -> None:
    with pytest.raises(InvalidAddress, match=r"^To: "):
        parse_addresses(raw, "To", required=True)


def test_required_and_optional_fields() -> None:
    with pytest.raises(InvalidAddress, match="at least one"):
        parse_addresses("  ", "To", required=True)
    assert parse_addresses("", "Cc", required=False) == []
    many = ",".join(f"p{i}@customer.test" for i in range(MAX_RECIPIENTS + 1))
    with pytest.raises(InvalidAddress, match=f"at most {MAX_RECIPIENTS}"):
        parse_addresses(many, "Cc", required=False)
