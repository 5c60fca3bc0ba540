"""The outside world one process talks to: settings, storage, Microsoft Graph, the clock.

Triggers get the process-wide `current()`; tests and the local runner build their own `Services`
pointing at Azurite and the Graph emulator. Nothing here connects until first used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from shared import config
from shared.config import Settings

if TYPE_CHECKING:
    from shared.graph import GraphConnection
    from shared.store import Store
    from shared.store.budget import SharedBudget


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    store_prefix: str = ""
    clock: Callable[[], datetime] = field(default=utc_now)

    @cached_property
    def store(self) -> Store:
        from shared.store import Store

        return Store(self.settings, prefix=self.store_prefix)

    def graph(self, role: Literal["reader", "remediator"] = "reader") -> GraphConnection:
        """A new Graph connection (async; close it with `async with`). Its sign-in requests
        spend the budget every instance shares (Graph's limit is per app and tenant)."""
        from shared.graph import connect

        return connect(self.settings, role=role, signin_pacer=self.signin_budget)

    @cached_property
    def signin_budget(self) -> SharedBudget:
        """Graph's signIns throttle (GRAPH_SIGNIN_REQUESTS per GRAPH_SIGNIN_PERIOD_SECONDS) as
        one table entity per Graph endpoint, shared by every process of every instance."""
        from shared.graph.client import CONNECT_TIMEOUT_S
        from shared.store.budget import BudgetRecord, SharedBudget, budget_keys
        from shared.store.retry import storage_errors

        name = self.store.names.graph_budget
        with storage_errors("creating the Graph budget table"):
            self.store.clients.table_service.create_table_if_not_exists(name)
        table = self.store.table(name, BudgetRecord, budget_keys)
        return SharedBudget(table, f"signIns {self.settings.graph_base_url}",
                            self.settings.graph_signin_requests,
                            self.settings.graph_signin_period_s,
                            # an unanswered request holds its slot until its read times out
                            stale_s=self.settings.graph_read_timeout_s + CONNECT_TIMEOUT_S)


_current: Services | None = None


def current() -> Services:
    """The process-wide services, built from the environment on first use."""
    global _current
    if _current is None:
        settings = config.load()
        _current = Services(settings, store_prefix=settings.storage_name_prefix)
    return _current


def install(services: Services) -> None:
    """Make `services` the process-wide ones (the local runner and `make serve` do this)."""
    global _current
    _current = services
