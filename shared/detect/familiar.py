"""Whether a sign-in came from one of the user's own sources: a registered device the user's
baseline knows or, for a sign-in that names no device, a network (/24 or /48) it holds.

Why it matters: a fleet on one browser build sends one user agent and carrier-grade NAT puts many
users behind one address, so a tenant-wide pattern (many accounts failing from addresses sharing
an agent) can be made of people mistyping at home. An account whose failures and success all come
from its own sources was not sprayed; a campaign got in only where the success came from an
address, network or device the user does not use. An Entra device id is the registered device's
own (it comes from the device's authentication, not from what the client claims): a known one is
the user wherever it signs in from, and an unknown one on a success from a familiar network is
still a stranger.
"""

from __future__ import annotations

from shared.baseline import BaselineProfile, network_prefix
from shared.model import SignIn


def own_source(sign_in: SignIn, baseline: BaselineProfile | None) -> bool:
    """The sign-in names a registered device the user's baseline knows (wherever it is: a
    laptop travels, a phone's carrier changes its address on every connection), or names none
    and comes from a network the baseline holds. Without a baseline nothing is the user's own."""
    if baseline is None or not baseline.sign_ins:
        return False
    device = sign_in.device_id
    if device is not None:
        return device in baseline.devices
    return network_prefix(sign_in.ip_address) in baseline.prefixes
