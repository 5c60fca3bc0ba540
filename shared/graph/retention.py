"""How far back the tenant's logs reach: detected from its licence, and checked, not assumed.

Microsoft keeps sign-ins 7 days without a premium licence and 30 days with Entra ID P1 or P2;
risky sign-ins 7, 30 or 90 days (free, P1, P2); a tenant that has just upgraded sees only about
7 days of sign-ins at first, the rest filling in as time passes (Microsoft Entra data
retention, reference-reports-data-retention; REFERENCE.md). So:

- `tenant_licence` reads /subscribedSkus (Organization.Read.All or Directory.Read.All) and
  names the tier from the service plans an enabled subscription carries (AAD_PREMIUM_P2,
  AAD_PREMIUM);
- `history_reach` asks signIns for one row older than 7 days within the retention period: none
  means the history is short (an upgrade, or a tenant quiet before then), and the review says
  so instead of reading 30 days that are not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

import msgspec

from shared.errors import GraphUnavailable
from shared.graph import odata
from shared.graph.calls import call, native_config
from shared.graph.client import GraphConnection
from shared.graph.directory import DirectoryResult, _Collection, _list_all, _Listing, unavailable
from shared.model import DataSource

Tier = Literal["P2", "P1", "free"]
# days kept: (sign-ins, risky sign-ins), by licence
RETENTION_DAYS: dict[Tier, tuple[int, int]] = {"P2": (30, 90), "P1": (30, 30), "free": (7, 7)}
UPGRADE_DAYS = 7  # what a tenant that has just upgraded sees at first
P2_PLAN, P1_PLAN = "AAD_PREMIUM_P2", "AAD_PREMIUM"


class _Plan(msgspec.Struct, rename="camel"):
    service_plan_name: str | None = None
    provisioning_status: str | None = None


class _Sku(msgspec.Struct, rename="camel"):
    capability_status: str | None = None
    service_plans: list[_Plan] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Retention:
    tier: Tier

    @property
    def sign_in_days(self) -> int:
        return RETENTION_DAYS[self.tier][0]

    @property
    def risky_sign_in_days(self) -> int:
        return RETENTION_DAYS[self.tier][1]


def tier_of(skus: list[_Sku]) -> Tier:
    """The best Entra ID tier an enabled subscription's service plans grant."""
    plans = {(p.service_plan_name or "").upper() for sku in skus
             if (sku.capability_status or "Enabled") in ("Enabled", "Warning")
             for p in sku.service_plans if (p.provisioning_status or "Success") != "Disabled"}
    return "P2" if P2_PLAN in plans else "P1" if P1_PLAN in plans else "free"


async def tenant_licence(graph: GraphConnection) -> DirectoryResult[Retention]:
    """The tenant's Entra ID tier and what it keeps; P1's 30 days (what reading signIns at all
    implies) with the reason when the subscriptions cannot be read."""
    from msgraph.generated.subscribed_skus.subscribed_skus_request_builder import (
        SubscribedSkusRequestBuilder as Builder,
    )

    decode = msgspec.json.Decoder(_Collection[_Sku]).decode
    query = Builder.SubscribedSkusRequestBuilderGetQueryParameters(
        select=["skuPartNumber", "capabilityStatus", "servicePlans"])
    try:
        skus = await _list_all(graph, graph.client.subscribed_skus, query,
                               _Listing[_Sku]("subscribed SKUs", decode))
    except GraphUnavailable as exc:
        return unavailable(Retention("P1"), exc)
    found = Retention(tier_of(skus))
    return DirectoryResult(found, detail=f"Entra ID {found.tier}: sign-ins kept "
                                         f"{found.sign_in_days} days, risky sign-ins "
                                         f"{found.risky_sign_in_days}")


async def history_reach(graph: GraphConnection, now: datetime, retention: Retention
                        ) -> DataSource | None:
    """None when the tenant's sign-ins reach past UPGRADE_DAYS within its retention; else what
    the review should say about its short history (one signIns request, $top=1)."""
    from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import (
        SignInsRequestBuilder as Builder,
    )

    if retention.sign_in_days <= UPGRADE_DAYS:
        return DataSource("signInHistory", False, (
            f"the tenant's licence ({retention.tier}) keeps sign-ins {retention.sign_in_days} "
            "days: older history cannot be read"))
    oldest = now - timedelta(days=retention.sign_in_days)
    cutoff = now - timedelta(days=UPGRADE_DAYS)
    query = Builder.SignInsRequestBuilderGetQueryParameters(
        filter=odata.window_clause(oldest, cutoff), top=1)
    builder = graph.client.audit_logs.sign_ins
    response = await call(graph, partial(builder.get, request_configuration=native_config(query)),
                          what="sign-in history reach", limiter=graph.signin_limiter)
    found: Any = msgspec.json.decode(response.content)
    if isinstance(found, dict) and found.get("value"):
        return None
    return DataSource("signInHistory", False, (
        f"no sign-in older than {UPGRADE_DAYS} days was found although the licence keeps "
        f"{retention.sign_in_days}: a tenant that has just upgraded sees only about "
        f"{UPGRADE_DAYS} days at first, so the user's history before "
        f"{cutoff:%Y-%m-%d} is missing, not quiet"))
