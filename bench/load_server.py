"""The bridge under load: a large-demo bridge configured and filled once, and its web server in a
child process started as the shipped web unit would run it (see `bench.load`)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.load_client import Session
from bench.sync import DEMO, TODAY
from bpo2_bridge.settings import BY_NAME

if TYPE_CHECKING:
    from bpo2_bridge.bridge import Bridge

DATA = Path(os.environ.get("BPO2_BENCH_WEB", "/tmp/bench-web"))
PG_DATA = Path(os.environ.get("BPO2_BENCH_WEB_PG", "/tmp/bench-web-pg"))
PG_URL = os.environ.get("BPO2_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bpo2_bench_cache")
SECRET = "bench-secret-" + "x" * 20
CLI = [sys.executable, "-c", "from bpo2_bridge.cli import main; main()"]
SCHEDULER_UNIT = (
    Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "bpo2-bridge-scheduler.service"
)
WEB_UNIT = SCHEDULER_UNIT.with_name("bpo2-bridge-web@.service")
UNIT_ALLOCATOR = ("MALLOC_ARENA_MAX",)  # Environment= of the web unit that the load's server takes too
RSS_PARTS = ("VmRSS", "RssAnon", "RssFile")  # from /proc/PID/status


def web_unit_environment() -> dict[str, str]:
    """The allocator settings of the shipped web unit: the server under load runs as it would."""
    found: dict[str, str] = {}
    for line in WEB_UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line.partition("=")[2]):
                name, _, value = assignment.partition("=")
                if name in UNIT_ALLOCATOR:
                    found[name] = value
    return found


def scheduler_nice() -> int:
    """Nice= of the shipped scheduler unit: the sync during the load runs as the scheduler would."""
    for line in SCHEDULER_UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("Nice="):
            return int(line.partition("=")[2])
    return 0


# -- the bridge under test ----------------------------------------------------------------


def data_dir(cache: str) -> Path:
    return DATA if cache == "sqlite" else PG_DATA


def write_config(cache: str, threads: int | None = None) -> Path:
    folder = data_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "data_dir": str(folder),
        "source_url": f"sqlite:///{DEMO}",
        "share_root": str(DEMO.parent / "share"),
        "today": TODAY.isoformat(),
        "threads": threads or BY_NAME["threads"].default,
        "login_attempts_per_minute": 1000,
        "statement_timeout": 3600,  # the full sync streams millions of rows in one statement
    }
    if cache == "postgresql":
        values["cache_url"] = PG_URL
    path = folder / "load.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


def prepare(cache: str, threads: int | None = None) -> Path:
    """The config file of a large-demo bridge with a filled cache and the demo users."""
    from bpo2_bridge.bridge import Bridge
    from bpo2_bridge.settings import load_settings
    from bpo2_bridge.source.reflection import SchemaError, reflect_source

    if not DEMO.exists():
        from bench.sync import ensure_demo

        ensure_demo("large")
    if cache == "postgresql":
        _ensure_pg_database()
    config = write_config(cache, threads)
    bridge = Bridge(load_settings(config_file=config, environ={"BPO2_BRIDGE_SECRET_KEY": SECRET}))
    try:
        try:
            reflect_source(bridge.source, bridge.mapping)
        except SchemaError as exc:  # a demo built before the mapping changed: Refresh and sync would fail
            raise SystemExit(
                f"{DEMO} does not fit the mapping: {exc}. Delete it and {config.parent} to rebuild."
            ) from None
        fill_cache(bridge, f"the {cache} cache")
    finally:
        bridge.dispose()
    return config


def fill_cache(bridge: Bridge, where: str) -> None:
    """The large demo synced into the bridge's cache (once), and the demo users."""
    from bpo2_bridge.store.users import create_demo_users

    if not bridge.cache.exists():
        from bpo2_bridge.sync.full import full_sync

        print(f"syncing {DEMO} into {where} (once)", flush=True)
        started = time.monotonic()
        full_sync(bridge)
        print(f"  full sync {time.monotonic() - started:.0f} s", flush=True)
    create_demo_users(bridge.store)


def _ensure_pg_database() -> None:
    from sqlalchemy import create_engine, make_url, text

    url = make_url(PG_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}
        ).scalar():
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`bpo2-bridge serve --no-scheduler` in a child process; its log goes to a file."""

    def __init__(self, config: Path, number: int = 0) -> None:
        self.port = _free_port()
        self.log_path = config.parent / ("load-server.log" if not number else f"load-server-{number}.log")
        self._log = self.log_path.open("wb")
        env = {**os.environ, **web_unit_environment(), "BPO2_BRIDGE_SECRET_KEY": SECRET}
        args = ["--config", str(config), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*CLI, *args, "--no-scheduler"], env=env, stdout=subprocess.DEVNULL, stderr=self._log
        )
        deadline = time.monotonic() + 60
        while not Session.answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start; see {self.log_path}")
            time.sleep(0.2)

    def memory_mb(self) -> dict[str, float]:
        """Resident memory, whole and split: anonymous (the heap: what a leak grows) and
        file-backed (mapped code and libraries, which the kernel may drop and read back)."""
        found = dict.fromkeys(RSS_PARTS, float("nan"))
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name = line.partition(":")[0]
            if name in found:
                found[name] = int(line.split()[1]) / 1024
        return found

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
