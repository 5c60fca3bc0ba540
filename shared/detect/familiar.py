"""Whether a sign-in came from one of the user's own sources: a network (/24 or /48) the user's
baseline holds and, when the sign-in carries one, a registered device the baseline knows.

Why it matters: a fleet on one browser build sends one user agent and carrier-grade NAT puts many
users behind one address, so a tenant-wide pattern (many accounts failing from addresses sharing
an agent) can be made of people mistyping at home. An account whose failures and success all come
from its own sources was not sprayed; a campaign got in only where the success came from an
address, network or device the user does not use. An Entra device id is the registered device's
own (it comes from the device's authentication, not from what the client claims), so an unknown
one on a success from a familiar network is still a stranger.
"""

from __future__ import annotations

from shared.baseline import BaselineProfile, network_prefix
from shared.model import SignIn


def own_source(sign_in: SignIn, baseline: BaselineProfile | None) -> bool:
    """The sign-in's network is in the user's baseline and its device (if it names one) is too.
    Without a baseline nothing is the user's own."""
    if baseline is None or not baseline.sign_ins:
        return False
    prefix = network_prefix(sign_in.ip_address)
    if prefix is None or prefix not in baseline.prefixes:
        return False
    device = sign_in.device_id
    return device is None or not baseline.devices or device in baseline.devices
