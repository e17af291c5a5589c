"""The registry of everything one running bridge holds: settings, mapping, engines, cache,
the SQL files, the Refresh runs and the report renderer with its PDF workers.

Views, commands and jobs receive a Bridge; nothing hangs off module globals. What lives longer
than a request is made here (lazily, on first use) and closed in `dispose`.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from .queries.sqlfiles import SqlFiles
from .settings import Settings
from .source.engines import open_source
from .source.mapping import Mapping, load_mapping
from .store.database import open_store

if TYPE_CHECKING:
    from .cache.snapshots import Cache
    from .report.render import ReportRenderer
    from .source.reflection import SourceSchema
    from .sync.refresh import Refreshes


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # set when the process is stopping (serve after SIGTERM): a running sync ends at its
        # next batch, leaving nothing half-written
        self.stopping = threading.Event()
        # the SQL files, each read and compiled once for this bridge's life
        self.sql_files = SqlFiles()

    @cached_property
    def mapping(self) -> Mapping:
        return load_mapping(self.settings.mapping_path)

    @cached_property
    def source_tables(self) -> SourceSchema:
        """The mapped source tables as the mapping describes them, built once: SQLAlchemy keys
        its compiled statements by Table object, so a Table built per request would be compiled
        again, and kept in the engine's statement cache, on every request."""
        from .source.reflection import offline_schema

        return offline_schema(self.mapping)

    @cached_property
    def source(self) -> Engine:
        """Read-only, time-limited engine on BPO2 (connects lazily)."""
        return open_source(self.settings)

    @cached_property
    def store(self) -> Engine:
        return open_store(self.settings)

    @cached_property
    def cache(self) -> Cache:
        from .cache.snapshots import Cache

        return Cache(self.settings, self.store)

    @cached_property
    def refreshes(self) -> Refreshes:
        """The Refresh runs in flight (presses of one customer share a run) and the reflected
        source schema they reuse."""
        from .sync.refresh import Refreshes

        return Refreshes()

    @cached_property
    def reports(self) -> ReportRenderer:
        """The Contract Performance report's renderer: templates, stylesheets and the PDF
        maker with its worker processes (serve starts them: `reports.pdf.use_workers`)."""
        from .report.render import ReportRenderer

        return ReportRenderer(self.settings)

    def today(self) -> dt.date:
        return self.settings.today_date()

    def dispose(self) -> None:
        """Close what this bridge opened: PDF workers, Refresh memo, cache and engines."""
        reports = self.__dict__.get("reports")
        if reports is not None:
            reports.dispose()
        refreshes = self.__dict__.get("refreshes")
        if refreshes is not None:
            refreshes.close()
        for name in ("source", "store"):
            engine = self.__dict__.get(name)
            if engine is not None:
                engine.dispose()
        cache = self.__dict__.get("cache")
        if cache is not None:
            cache.dispose()
