"""Searching one customer's contracts keeps exactly the contracts whose text columns contain
the word (any case), on every tab. The customer's list searches its own few rows as they are,
without the search indexes the list across customers goes through."""

from __future__ import annotations

import pytest

from bpo2_bridge.cache import search as search_index


def _rows(client, url: str) -> list[dict]:  # type: ignore[no-untyped-def]
    answer = client.get(url)
    assert answer.status_code == 200, url
    return answer.get_json()["rows"]


TEXT_COLUMNS = ("contract_no", "contract_type", "status", "window")  # the customer's grid's text columns


@pytest.mark.parametrize("tab", ["all", "expired", "expiring"])
def test_a_customers_search_keeps_the_contracts_whose_text_contains_the_word(client, login, tab: str) -> None:
    login(client, "admin")
    contracts = _rows(client, f"/contracts?tab={tab}&format=json&page_size=200&sort=contract_no")
    accounts = sorted({row["account_no"] for row in contracts})[:6]
    assert accounts, "the demo has contracts on every tab"
    sample = contracts[0]
    terms = {
        "CPC0",  # in every contract number
        sample["contract_no"][-4:],
        sample["contract_type"],
        sample["status"].lower(),
        "nosuchword",
    }
    found = 0
    for account in accounts:
        url = f"/customers/{account}/contracts?tab={tab}&format=json&page_size=200&sort=contract_no"
        everything = _rows(client, url)
        for term in sorted(terms):
            expected = [
                row["contract_no"]
                for row in everything
                if any(term.lower() in str(row[c] or "").lower() for c in TEXT_COLUMNS)
            ]
            got = [row["contract_no"] for row in _rows(client, f"{url}&q={term}")]
            assert got == expected, (account, term)
            found += len(got)
    assert found, "some searches find contracts"


@pytest.mark.parametrize("login_name", ["admin", "sales1"])
def test_a_search_finds_the_same_contracts_through_the_index_as_row_by_row(
    client, login, monkeypatch, login_name: str
) -> None:
    """The search box over every contract reads the stored search text through its trigram
    index: a rare word's matches, or a walk along the sort order for a common one (its count
    through the index). Every plan answers the same pages as testing each row."""
    login(client, login_name)
    sample = _rows(client, "/contracts?tab=all&format=json&page_size=10&sort=contract_no")[3]
    terms = [
        "CPC0",
        sample["contract_no"][-5:],
        sample["contract_type"],
        sample["customer_name"][:5],
        "zz",
        "expir",
    ]
    urls = [
        f"/contracts?tab={tab}&format=json&page_size=200&sort=-contract_no&q={term}"
        for tab in ("all", "expired", "expiring")
        for term in terms
    ]
    urls.append(f"/contracts?tab=all&format=json&q={sample['contract_no'][-5:]}+{sample['status']}")
    monkeypatch.setattr(search_index, "present", lambda _conn, _searched: False)
    row_by_row = {url: client.get(url).get_json() for url in urls}
    monkeypatch.undo()
    for dense in (0, search_index.DENSE_MATCHES, 10**9):  # always walk; as shipped; always the index
        monkeypatch.setattr(search_index, "DENSE_MATCHES", dense)
        for url in urls:
            indexed = client.get(url).get_json()
            assert (indexed["total"], indexed["rows"]) == (
                row_by_row[url]["total"],
                row_by_row[url]["rows"],
            ), url
    assert sum(answer["total"] for answer in row_by_row.values()) > 0
