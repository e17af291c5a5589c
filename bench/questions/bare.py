"""The bare endpoint: one query per request over a snapshot file, JSON rows; no sign-in, no
count, no grid, no template. What the grid questions cost with nothing around them.

`python -m bench.questions.bare SNAPSHOT PORT` serves it with waitress (8 threads) on
127.0.0.1. Each thread keeps one read-only sqlite3 connection. A search tests row after row in
the order asked (``LIKE``, ``INDEXED BY`` the sort column's index) until it has a page: quick
for a common word, a walk over every row for a rare one. Left to itself, SQLite reads every row
and sorts the matches (about 0.4 s whatever the word).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path

from flask import Flask, abort, jsonify, request

from bench.questions.catalog import CUSTOMER_SORTS, EXCLUDED, PAGE_SIZE, TODAY, WINDOW_END

CONTRACT_COLUMNS = (
    "contract_id",
    "contract_no",
    "customer_id",
    "account_no",
    "customer_name",
    "contract_type",
    "status",
    "start_date",
    "expiry_date",
    "machines",
)
CUSTOMER_COLUMNS = ("customer_id", *CUSTOMER_SORTS)
SEARCHED = ("search_text", "contract_no")
TAB_SQL = {
    "all": "",
    "expired": f" AND expiry_date < '{TODAY}' AND status <> '{EXCLUDED}'",
    "expiring": f" AND expiry_date >= '{TODAY}' AND expiry_date <= '{WINDOW_END}' AND status <> '{EXCLUDED}'",
}
OPERATORS = {"=": "=", "!=": "<>"}


def walk_indexes(uri: str, table: str, key: str) -> dict[str, str]:
    """The index of each column that has one on (column, key): what a walk in its order reads."""
    conn = sqlite3.connect(uri, uri=True)
    try:
        found = {}
        for index in [r[1] for r in conn.execute(f"PRAGMA index_list({table})")]:
            columns = [r[2] for r in conn.execute(f"PRAGMA index_info({index})")]
            if len(columns) == 2 and columns[1] == key:
                found[columns[0]] = index
        return found
    finally:
        conn.close()


def create_app(snapshot: Path) -> Flask:
    app = Flask("bare")
    uri = f"{snapshot.resolve().as_uri()}?mode=ro"
    local = threading.local()
    walks = {
        "contract_row": walk_indexes(uri, "contract_row", "contract_id"),
        "customer_row": walk_indexes(uri, "customer_row", "customer_id"),
    }

    def rows(sql: str, params: list[object]) -> list[dict[str, object]]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]

    def sort(columns: tuple[str, ...], default: str) -> tuple[str, str]:
        sort = request.args.get("sort", "")
        column = sort.removeprefix("-") or default
        if column not in columns:
            abort(400)
        return column, " DESC" if sort.startswith("-") else ""

    def source(table: str, column: str) -> str:
        """The table, walked along `column`'s index when the question searches."""
        index = walks[table].get(column)
        return f"{table} INDEXED BY {index}" if request.args.get("q") and index else table

    def page() -> str:
        number = int(request.args.get("page", 1))
        return f" LIMIT {PAGE_SIZE} OFFSET {(number - 1) * PAGE_SIZE}"

    def searched(column: str, params: list[object]) -> str:
        terms = request.args.get("q", "").split()
        params += [f"%{t}%" for t in terms]
        return "".join(f" AND {column} LIKE ?" for _ in terms)

    @app.get("/contracts")
    def contracts():  # type: ignore[no-untyped-def]
        args = request.args
        tab = args.get("tab", "all")
        column, way = sort(CONTRACT_COLUMNS, "expiry_date")
        table = source("contract_row", column)
        sql = f"SELECT {', '.join(CONTRACT_COLUMNS)} FROM {table} WHERE 1 = 1{TAB_SQL[tab]}"
        params: list[object] = []
        if args.get("customer_id"):
            sql += " AND customer_id = ?"
            params.append(int(args["customer_id"]))
        if args.get("employee_id"):
            sql += " AND customer_id IN (SELECT customer_id FROM customer_salesman WHERE employee_id = ?)"
            params.append(int(args["employee_id"]))
        for filtered, name in (("status", "status"), ("contract_type", "type")):
            if args.get(name):
                sql += f" AND {filtered} {OPERATORS[args.get(name + '_op', '=')]} ?"
                params.append(args[name])
        searched_column = args.get("column", "search_text")
        if searched_column not in SEARCHED:
            abort(400)
        sql += searched(searched_column, params) + f" ORDER BY {column}{way}, contract_id{way}" + page()
        return jsonify({"rows": rows(sql, params)})

    @app.get("/customers")
    def customers():  # type: ignore[no-untyped-def]
        params: list[object] = []
        column, way = sort(CUSTOMER_COLUMNS, "customer_name")
        sql = f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM {source('customer_row', column)} WHERE 1 = 1"
        sql += searched("search_text", params) + f" ORDER BY {column}{way}, customer_id{way}" + page()
        return jsonify({"rows": rows(sql, params)})

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify({"ok": True})

    return app


if __name__ == "__main__":
    import logging

    import waitress

    logging.getLogger("waitress").setLevel(logging.ERROR)
    waitress.serve(create_app(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), threads=8)
