"""A local Microsoft Graph for machines without Azure: the sign-in, Identity Protection, role and
user endpoints sign-in review calls, with Graph's JSON shapes, OData paging and `$filter`,
bearer-token checks, and switches for throttling, licences, permissions and faults.

    emulator = GraphEmulator()
    base_url = emulator.start()          # http://127.0.0.1:PORT, serving /v1.0 and /beta
    emulator.load(sign_ins=[...], users=[...])
    emulator.configure(signin_rate=(5, 10), premium=False, fail_next=[503])
    emulator.configure(throttle_at={2: "2.128"})   # the 2nd request answers 429 (faults.py)
    emulator.stop()

`python -m local.graph_emulator [--port 0] [--tenant DIR]` runs one in the foreground.
"""

from local.graph_emulator.emulator import GraphEmulator

__all__ = ["GraphEmulator"]
