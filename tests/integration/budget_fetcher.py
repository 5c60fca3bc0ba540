"""One fetching process for the shared-budget test: its own Services and Graph client, the
same storage (so the same budget entity), one window of sign-ins streamed; prints what it saw.

    python -m tests.integration.budget_fetcher STORAGE GRAPH_URL TOKEN PREFIX START END
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from local.stack import local_settings
from shared.graph import stream_sign_ins
from shared.model import Window
from shared.services import Services


async def fetch(services: Services, window: Window) -> dict[str, int]:
    async with services.graph() as graph:
        rows = sum([len(page.sign_ins) async for page in
                    stream_sign_ins(graph, window, page_size=100)])
        return {"rows": rows, "requests": graph.stats.requests,
                "throttled": graph.stats.throttled}


def main(argv: list[str]) -> int:
    storage, graph_url, token, prefix, start, end = argv
    settings = local_settings(storage, graph_url, token, GRAPH_SIGNIN_REQUESTS="5",
                              GRAPH_SIGNIN_PERIOD_SECONDS="10")
    services = Services(settings, store_prefix=prefix)
    window = Window(datetime.fromisoformat(start), datetime.fromisoformat(end))
    print(json.dumps(asyncio.run(fetch(services, window))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
