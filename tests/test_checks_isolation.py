"""One bad BPO2 row breaks one canned check, not all of them: the check it trips fails alone with
its reason, in `checks run` and in the web's "Run all checks", on SQLite and on MariaDB through
pyodbc (PostgreSQL text cannot hold the NUL this row carries)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, func, insert, select

from bpo2_bridge.checks.canned import last_results, list_checks, run_checks
from bpo2_bridge.demo.generate import build_demo

from .helpers import csrf_token

TODAY = dt.date(2026, 11, 22)
BAD_CHECK = "attachment_missing_content"  # reads file paths on the share


def _insert_nul_path(url: str, bridge) -> None:  # type: ignore[no-untyped-def]
    """An attachment without bytes whose path holds a NUL, as a careless import might leave."""
    mapping = bridge.mapping
    table = mapping.physical_metadata().tables[mapping["case_attachment"].qualified_table]
    writer = create_engine(url)
    with writer.begin() as conn:
        case_id, customer_id = conn.execute(
            select(table.c.case_id, table.c.customer_id).order_by(table.c.file_id).limit(1)
        ).one()
        next_id = conn.execute(select(func.max(table.c.file_id))).scalar_one() + 1
        conn.execute(
            insert(table).values(
                file_id=next_id,
                case_id=case_id,
                customer_id=customer_id,
                file_name="broken.pdf",
                file_path="cases/broken\x00.pdf",
            )
        )
    writer.dispose()


def _assert_isolated(results) -> None:  # type: ignore[no-untyped-def]
    by_name = {r.name: r for r in results}
    assert set(by_name) == {c.name for c in list_checks()}
    bad = by_name.pop(BAD_CHECK)
    assert bad.status == "error" and "null" in (bad.error or "").lower(), bad.error
    assert {name: r.status for name, r in by_name.items() if r.status == "error"} == {}


def test_a_nul_in_one_row_fails_one_check_in_the_cli(copied_demo, runner) -> None:
    bridge = copied_demo()
    _insert_nul_path(f"sqlite:///{bridge.settings.demo_source_path}", bridge)
    result = runner.invoke("checks", "run", bridge=bridge, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:] if line.strip()}
    assert set(lines) == {c.name for c in list_checks()}
    assert "ERROR" in lines[BAD_CHECK] and "null" in lines[BAD_CHECK].lower()
    assert all("ERROR" not in line for name, line in lines.items() if name != BAD_CHECK)
    _assert_isolated(last_results(bridge.store).values())


def test_a_nul_in_one_row_fails_one_check_in_run_all_on_the_web(make_app, copied_demo, login) -> None:
    bridge = copied_demo()
    _insert_nul_path(f"sqlite:///{bridge.settings.demo_source_path}", bridge)
    client = make_app(bridge).test_client()
    assert login(client, "ops").status_code == 302
    page = client.get("/checks").get_data(as_text=True)
    response = client.post("/checks/run", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    after = client.get("/checks").get_data(as_text=True)
    assert f"Ran {len(list_checks())} checks" in after
    assert "null" in after.lower()
    _assert_isolated(last_results(bridge.store).values())


def test_a_nul_in_one_row_fails_one_check_on_mariadb(copied_demo, fresh_database) -> None:
    url = fresh_database("mariadb")
    text_url = url.render_as_string(hide_password=False)
    bridge = copied_demo(source_url=text_url)
    build_demo(
        url, size="tiny", seed=1, today=TODAY, mapping=bridge.mapping, share_root=bridge.settings.share_path
    )
    _insert_nul_path(text_url, bridge)
    _assert_isolated(run_checks(bridge, None, triggered_by="test"))
