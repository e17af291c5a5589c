"""Row links built once per list (web/links.py) are the very URLs url_for builds."""

from __future__ import annotations

import pytest
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpo2_bridge.web.links import LinkFor, row_link

# any text a key column may hold, "/" "?" "#" "%" and non-ASCII included; a path argument is never empty
KEYS = st.text(min_size=1, max_size=30)


# the app is only read (URL building), so one app serves every example
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=KEYS, back=st.text(max_size=30))
def test_a_row_link_is_the_url_url_for_builds(app, value: str, back: str) -> None:
    with app.test_request_context("/"):
        customer = LinkFor("customers.dashboard", "account_no", back=back)
        case = LinkFor("cases.show", "case_no")
        assert customer(value) == url_for("customers.dashboard", account_no=value, back=back)
        assert case(value) == url_for("cases.show", case_no=value)
        # a grid's rows share one LinkFor per request; each row still gets its own URL
        for row_value in (value, value + "x"):
            expected = url_for("report.view", contract_no=row_value, back=back)
            assert row_link("report.view", "contract_no", row_value, back=back) == expected


def test_a_key_outside_the_path_is_refused(app) -> None:
    """Query values are quoted otherwise than path segments: splicing one in would go wrong."""
    with app.test_request_context("/"), pytest.raises(ValueError, match="not a path argument"):
        LinkFor("home.index", "tab")


def test_home_links_open_the_rows_customer_and_case(client, login) -> None:
    login(client, "sales1")
    html = client.get("/?tab=today&who=mine").get_data(as_text=True)
    customer_links = [part.split('"')[0] for part in html.split('href="/customers/')[1:]]
    case_links = [part.split('"')[0] for part in html.split('href="/cases/')[1:]]
    assert customer_links and case_links
    for link in customer_links[:5]:
        assert client.get("/customers/" + link.replace("&amp;", "&")).status_code == 200
    for link in case_links[:5]:
        assert client.get("/cases/" + link.replace("&amp;", "&")).status_code == 200
