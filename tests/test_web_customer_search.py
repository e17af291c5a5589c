"""Searching one customer's contracts keeps exactly the contracts whose text columns contain
the word (any case), on every tab. The customer's list searches its own few rows as they are,
without the search indexes the list across customers goes through."""

from __future__ import annotations

import pytest

from bpo2_bridge import contract_search, crm


def _rows(client, url: str) -> list[dict]:  # type: ignore[no-untyped-def]
    answer = client.get(url)
    assert answer.status_code == 200, url
    return answer.get_json()["rows"]


TEXT_COLUMNS = ("contract_no", "contract_type", "status", "window")


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
def test_a_search_finds_the_same_contracts_through_the_indexes_as_row_by_row(
    client, login, monkeypatch, login_name: str
) -> None:
    """The demo's lists are short enough to be searched row by row; with no list short enough,
    the same searches go through the search indexes, or row by row for a word too common for
    them, and must answer the same pages either way."""
    login(client, login_name)
    sample = _rows(client, "/contracts?tab=all&format=json&page_size=10&sort=contract_no")[3]
    terms = ["CPC0", sample["contract_no"][-5:], sample["contract_type"], sample["customer_name"][:5], "zz"]
    urls = [
        f"/contracts?tab={tab}&format=json&page_size=200&sort=-contract_no&q={term}"
        for tab in ("all", "expired", "expiring")
        for term in terms
    ]
    urls.append(f"/contracts?tab=all&format=json&f_contract_no={sample['contract_no'][-5:]}*")
    as_is = {url: client.get(url).get_json() for url in urls}
    monkeypatch.setattr(crm, "SEARCH_AS_IS_ROWS", 0)
    for probed in (contract_search.PROBED_ROWS, 0):  # the word's matches counted; never
        monkeypatch.setattr(contract_search, "PROBED_ROWS", probed)
        for url in urls:
            indexed = client.get(url).get_json()
            assert (indexed["total"], indexed["rows"]) == (as_is[url]["total"], as_is[url]["rows"]), url
    assert sum(answer["total"] for answer in as_is.values()) > 0
