"""`bpo2-bridge demo` and `bpo2-bridge serve` as an operator runs them."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path

from bpo2_bridge.cli.serve import settle_heap
from bpo2_bridge.store.users import DEMO_PASSWORD, verify


def _config(tmp_path, data_dir) -> str:  # type: ignore[no-untyped-def]
    config = tmp_path / "bridge.toml"
    config.write_text(f'data_dir = "{data_dir}"\ntoday = "2026-11-22"\n')
    return str(config)


def test_demo_syncs_existing_source_creates_users_and_prints_logins(copied_demo, runner) -> None:
    bridge = copied_demo()
    result = runner.invoke("demo", "--no-serve", bridge=bridge)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8080/" in result.output
    for login in ("sales1", "sales2", "admin", "ops"):
        assert login in result.output
        assert verify(bridge.store, login, DEMO_PASSWORD) is not None
    assert DEMO_PASSWORD in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pdf_workers(pid: int) -> list[int]:
    """Child processes of ``pid`` that are multiprocessing workers (Linux /proc)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_serve_answers_on_the_given_port_and_its_pdf_worker_ends_with_it(copied_demo, tmp_path) -> None:
    bridge = copied_demo()
    port = _free_port()
    env = {**os.environ, "BPO2_BRIDGE_SECRET_KEY": "x" * 32}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bpo2_bridge.cli import main; main()",
            "--config",
            _config(tmp_path, bridge.settings.data_path),
            "serve",
            "--port",
            str(port),
            "--no-scheduler",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.3)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/customers")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request, timeout=5)
            raise AssertionError("anonymous request was not redirected")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and "/login" in exc.headers["Location"]
        while not (workers := _pdf_workers(proc.pid)):  # started with the server (pdf_workers = 1)
            assert time.monotonic() < deadline + 30, "no PDF worker started"
            time.sleep(0.2)
        # a worker lowers its priority once started (pdf_nice)
        lowered = min(19, os.getpriority(os.PRIO_PROCESS, proc.pid) + bridge.settings.pdf_nice)
        while {os.getpriority(os.PRIO_PROCESS, w) for w in workers} != {lowered}:
            assert time.monotonic() < deadline + 60, "the PDF worker kept the server's priority"
            time.sleep(0.2)
        proc.kill()  # not even a chance to stop its workers
        proc.wait(timeout=10)
        gone_by = time.monotonic() + 15
        while any(_alive(w) for w in workers):
            assert time.monotonic() < gone_by, f"PDF workers {workers} outlived their server"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class _Node:
    other: object = None


def test_before_serving_start_up_garbage_is_collected_and_the_rest_left_out_of_full_passes() -> None:
    gc.disable()  # the cycle below must still be there when the server settles
    try:
        kept = _Node()  # lives as long as the process, as the app does
        first, second = _Node(), _Node()
        first.other, second.other = second, first  # garbage only the collector frees
        garbage = weakref.ref(first)
        del first, second
        assert garbage() is not None
        assert settle_heap() > 0
        assert garbage() is None  # collected, not set aside for ever
        assert not any(o is kept for o in gc.get_objects())  # no full pass walks it again
    finally:
        gc.unfreeze()
        gc.enable()
