"""Customer Files and downloading a file (bytes read from BPO2 or its file share)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, send_file, url_for

from bpo2_bridge.queries import crm
from bpo2_bridge.queries.grid.columns import GridColumn
from bpo2_bridge.queries.grid.engine import Grid
from bpo2_bridge.source.attachments import AttachmentMissing, attachment_content
from bpo2_bridge.values import json_value
from bpo2_bridge.web.auth import current_user
from bpo2_bridge.web.context import current_bridge, filesize
from bpo2_bridge.web.customer_pages import load_customer
from bpo2_bridge.web.grid import fetch_page, grid_response, wants_json
from bpo2_bridge.web.grid_export import json_response
from bpo2_bridge.web.grid_page import PageView
from bpo2_bridge.web.links import row_link
from bpo2_bridge.web.navigation import back_url, here
from bpo2_bridge.web.security import download_name

bp = Blueprint("files", __name__)
MAX_FILE_ID = 2**63 - 1  # the largest key any engine stores (BIGINT)


def download_link(row: Any) -> str:
    return url_for("files.download", file_id=row["file_id"])


def case_link(row: Any) -> str | None:
    if not row["case_no"]:
        return None
    return row_link("cases.show", "case_no", row["case_no"], back=here())


FILES = Grid(
    "files",
    [
        GridColumn("file_name", "File Name", link=download_link),
        GridColumn("case_no", "Case No"),
        GridColumn("case_subject", "Case Subject"),
        GridColumn("case_status", "Case Status", choices=True),
        GridColumn("uploaded_date", "Uploaded", type="datetime"),
        GridColumn("uploaded_by", "Uploaded By"),
        GridColumn("file_size", "Size", type="number", display=filesize),
        GridColumn(
            "case_info",
            "Case Information",
            sortable=False,
            filterable=False,
            searchable=False,
            link=case_link,
            css=lambda _row: "button-cell",
        ),
    ],
    default_sort="-uploaded_date",
    key=("file_id",),
)
# JSON rows also carry file_id, the key of /files/<file_id> (the page links it from File Name);
# openapi.py describes these keys from this tuple
JSON_EXTRA = (GridColumn("file_id", "File ID", type="number"),)


@bp.get("/customers/<account_no>/files")
def for_customer(account_no: str):  # type: ignore[no-untyped-def]
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        customer = load_customer(conn, account_no)
        page = fetch_page(FILES, conn, crm.files_base(conn, customer["customer_id"]))
    as_of = bridge.cache.as_of()
    if page.redirect_params is None and page.format not in ("csv", "xlsx") and wants_json():
        return _json_page(page, as_of)
    dashboard = url_for("customers.dashboard", account_no=account_no)
    return grid_response(
        FILES,
        page,
        template="files/customer.html",
        as_of=as_of,
        customer=customer,
        back=back_url(dashboard),
        dashboard=dashboard,
    )


def _json_page(page: PageView, as_of: Any) -> Response:
    """The grid's JSON with each row's file_id first."""
    body = page.as_json(as_of)
    body["rows"] = [
        {**{c.key: json_value(row[c.key]) for c in JSON_EXTRA}, **shown}
        for row, shown in zip(page.rows, body["rows"], strict=True)
    ]
    return json_response(body)


@bp.get("/files/<int:file_id>")
def download(file_id: int):  # type: ignore[no-untyped-def]
    """Stream the file with its name and type; 404 unless it belongs to the user's customer."""
    if file_id > MAX_FILE_ID:
        abort(404)  # no database integer is that large: no such file (not an overflow 500)
    bridge = current_bridge()
    with bridge.cache.connect() as conn:
        info = crm.file_info(conn, current_user(), file_id)
    if info is None:
        abort(404)
    try:
        content = attachment_content(bridge, file_id)  # SourceError -> 503 (page or JSON)
    except AttachmentMissing:
        if wants_json():
            return jsonify({"error": f"{info['file_name']} is no longer available in BPO2."}), 404
        return render_template(
            "errors/error.html",
            code=404,
            title="File not found",
            message=f"{info['file_name']} is no longer available in BPO2.",
        ), 404
    mimetype = info["content_type"] or "application/octet-stream"
    source: Any = BytesIO(content.data) if content.data is not None else content.path
    response = send_file(
        source,
        mimetype=mimetype,
        as_attachment=True,
        download_name=download_name(info["file_name"]),
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
