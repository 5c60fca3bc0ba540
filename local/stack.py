"""The local stand-ins for Azure, started together: Azurite, the Graph emulator loaded with the
sample tenant, and `Services` pointing at both. Used by `make demo`, `make serve` and the
benchmarks; everything listens on 127.0.0.1 and stops when the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from local.azurite import Azurite
from local.graph_emulator import GraphEmulator
from local.sources import sign_in_source
from local.tenant import Tenant, generate
from shared import config
from shared.services import Services, utc_now


@dataclass
class LocalStack:
    azurite: Azurite
    graph: GraphEmulator
    tenant: Tenant
    services: Services


def local_settings(storage: str, graph_url: str, token: str, **extra: str) -> config.Settings:
    """Settings for the emulators. Graph's throttle is scaled down tenfold (5 requests a
    second); everything else keeps its production default unless given."""
    return config.load({
        "AzureWebJobsStorage": storage,
        "GRAPH_BASE_URL": graph_url,
        "GRAPH_CREDENTIAL": "local",
        "GRAPH_LOCAL_TOKEN": token,
        "GRAPH_SIGNIN_REQUESTS": "5",
        "GRAPH_SIGNIN_PERIOD_SECONDS": "1",
        "GRAPH_RISK_REQUESTS_PER_SECOND": "10",
        **extra,
    })


@contextmanager
def local_stack(*, users: int = 50, seed: int = 7, tenant: Tenant | None = None,
                clock: datetime | None = None, real_clock: bool = False,
                source: str = "graph", **settings: str) -> Iterator[LocalStack]:
    """Start everything. The services' clock is `clock`, else the Monday morning after the
    tenant's weekend (reproducible runs), or the real time with `real_clock` (`make serve`).
    `source` is where sign-ins are read (local/sources.py); Graph serves the rest anyway."""
    tenant = tenant or generate(users=users, seed=seed)
    with Azurite() as azurite:
        graph = GraphEmulator()
        graph.start()
        try:
            graph.load(**tenant.emulator_data())
            with sign_in_source(source, tenant, azurite.connection_string,
                                graph.token) as chosen:
                config = local_settings(azurite.connection_string, graph.base_url, graph.token,
                                        **chosen, **settings)
                # once the window's last sign-ins have settled in the log (SIGNIN_SETTLE_MINUTES)
                moment = clock or tenant.window.end + timedelta(
                    minutes=config.signin_settle_minutes)
                services = Services(config, clock=utc_now if real_clock else (lambda: moment))
                services.store.ensure_resources()
                yield LocalStack(azurite=azurite, graph=graph, tenant=tenant, services=services)
        finally:
            graph.stop()
