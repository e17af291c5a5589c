"""Structured logs: one JSON object (or key=value line) per event, and a line per request."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpo2_bridge.logs import configure_logging


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, object]]:
    """configure_logging into a buffer; the root logger is put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()

    def configure(**kwargs: object) -> io.StringIO:
        buffer.seek(0)
        buffer.truncate()
        configure_logging(stream=buffer, **kwargs)  # type: ignore[arg-type]
        return buffer

    yield buffer, configure
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[str]:
    # collectors split events on newline only (not on the other characters splitlines() knows)
    return [line for line in buffer.getvalue().split("\n") if line]


def test_json_lines_carry_level_logger_message_and_extras(captured) -> None:
    buffer, configure = captured
    configure(fmt="json", level="INFO")
    log = logging.getLogger("bpo2_bridge.test")
    log.debug("not shown")
    log.info("synced %d rows", 42, extra={"entity": "contract", "rows": 42})
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        log.exception("failed")
    out = lines(buffer)
    assert len(out) == 2
    first, second = (json.loads(line) for line in out)
    assert first["level"] == "info" and first["logger"] == "bpo2_bridge.test"
    assert first["message"] == "synced 42 rows" and first["entity"] == "contract" and first["rows"] == 42
    assert first["ts"][:4].isdigit()
    assert second["level"] == "error" and "ValueError: line one\nline two" in second["exc"]


def test_configuring_twice_does_not_double_lines(captured) -> None:
    buffer, configure = captured
    configure(fmt="json")
    configure(fmt="json")
    logging.getLogger("bpo2_bridge.test").warning("once")
    assert len(lines(buffer)) == 1


def test_bad_level_or_format_is_refused(captured) -> None:
    _, configure = captured
    with pytest.raises(ValueError, match="log_format"):
        configure(fmt="xml")
    with pytest.raises(ValueError, match="log_level"):
        configure(level="LOUD")


@given(message=st.text(max_size=40), value=st.text(max_size=20))
def test_key_value_lines_parse_back(message: str, value: str) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    try:
        configure_logging(fmt="text", stream=buffer)
        logging.getLogger("bpo2_bridge.kv").warning("%s", message, extra={"field": value})
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)
    out = lines(buffer)
    assert len(out) == 1  # newlines inside values never split an event
    pairs = parse_key_values(out[0])
    assert list(pairs)[:4] == ["ts", "level", "logger", "message"]
    assert pairs["level"] == "warning" and pairs["logger"] == "bpo2_bridge.kv"
    assert pairs["message"] == message and pairs["field"] == value


def parse_key_values(line: str) -> dict[str, str]:
    """key=value pairs as written: a bare word, or a JSON string."""
    decoder = json.JSONDecoder()
    pairs, i = {}, 0
    while i < len(line):
        eq = line.index("=", i)
        key = line[i:eq]
        if line[eq + 1 : eq + 2] == '"':
            value, end = decoder.raw_decode(line, eq + 1)
        else:
            end = line.find(" ", eq)
            end = len(line) if end < 0 else end
            value = line[eq + 1 : end]
        pairs[key] = value
        i = end + 1
    return pairs


def test_a_request_line_per_request(captured, client, login) -> None:
    buffer, configure = captured
    configure(fmt="json")
    login(client, "sales1")
    client.get("/customers?format=json")
    client.get("/no/such/page")
    requests = [r for r in map(json.loads, lines(buffer)) if r["logger"] == "bpo2_bridge.request"]
    seen = [(r["method"], r["path"], r["status"]) for r in requests]
    assert seen == [
        ("GET", "/login", 200),
        ("POST", "/login", 302),
        ("GET", "/customers", 200),
        ("GET", "/no/such/page", 404),
    ]
    for record in requests:
        assert record["level"] == "info" and record["duration_ms"] >= 0
        assert record["message"].startswith(f"{record['method']} {record['path']} {record['status']} ")
    assert requests[2]["endpoint"] == "customers.index"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_writes_json_log_lines(copied_demo, tmp_path) -> None:
    bridge = copied_demo()
    config = tmp_path / "bridge.toml"
    config.write_text(f'data_dir = "{bridge.settings.data_path}"\ntoday = "2026-11-22"\n')
    port = _free_port()
    command = "from bpo2_bridge.cli import main; main()"
    args = ["--config", str(config), "serve", "--port", str(port), "--no-scheduler"]
    env = {**os.environ, "BPO2_BRIDGE_SECRET_KEY": "x" * 32}
    proc = subprocess.Popen(
        [sys.executable, "-c", command, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    logged = [line for line in err.decode().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in logged]
    health = [r for r in records if r.get("path") == "/healthz" and r["status"] == 200]
    assert health and health[-1]["method"] == "GET" and health[-1]["logger"] == "bpo2_bridge.request"
    # besides the one "Serving on" banner, everything on stderr is a JSON log line
    others = [line for line in err.decode().splitlines() if not line.startswith("{")]
    assert [line for line in others if "Serving on" not in line] == []
