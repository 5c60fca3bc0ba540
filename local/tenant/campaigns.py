"""Planted attacks that hide from per-bucket rules, and the window-edge cases.

Slow and distributed sprays, a slow brute force, a hop whose first leg lies before the window,
and a privileged account at an hour it never works on a device it never used. Each function
documents what it simulates and why it looks like this in real logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from local.tenant.attacks import CHROME_WINDOWS, FIREFOX_LINUX, MINUTE, _where
from local.tenant.people import Person, address
from local.tenant.places import (
    AZURE_PORTAL,
    AZURE_POWERSHELL,
    EXCHANGE,
    OFFICE_HOME,
    PROXY_POOL,
    ROTATION,
)
from local.tenant.records import attacker_device
from local.tenant.scene import Away, Scene
from local.tenant.timeline import HOUR

SLOW_SPRAY_TOOL = attacker_device("", "", "Mozilla/5.0 (compatible; MSAL spray 1.4)")
PROXY_SPRAY_TOOL = attacker_device("", "", "fasthttp")
UNUSED_MAC = attacker_device("MacOs", "Safari 17.2", "Mozilla/5.0 (Macintosh; Intel Mac OS X"
                             " 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2"
                             " Safari/605.1.15")


def slow_spray(scene: Scene, victim: Person, targets: Sequence[Person]) -> Away:
    """A hosting network rotates five addresses, one attempt every half hour or so, for sixteen
    hours on Saturday: two passes over the same accounts, and the victim's password works on the
    second. No twenty-minute bucket holds more than one or two accounts, so only a pass over the
    whole window sees the spray; every account it tried is among its targets.
    """
    clock, log = scene.clock, scene.log
    origin = _where(scene, "slow_spray")
    ips = [f"164.92.141.{n}" for n in (17, 23, 41, 58, 77)]
    everyone = [*targets, victim]
    start = clock.start + 7 * HOUR + scene.jitter()
    step = 16 * HOUR // (2 * len(everyone))
    for sweep in (0, 1):
        for k, person in enumerate(everyone):
            at = start + (sweep * len(everyone) + k) * step + scene.rng.randrange(0, 120)
            code = 0 if person is victim and sweep == 1 else 50126
            where = {**origin, "ip": ips[(k + sweep) % len(ips)]}
            log.add(person, at, app=AZURE_POWERSHELL, device=SLOW_SPRAY_TOOL, code=code, **where)
            if code == 0:
                log.add(person, at + 95, app=EXCHANGE, device=SLOW_SPRAY_TOOL,
                        interactive=False, **where)
    return []


def distributed_spray(scene: Scene, targets: Sequence[Person]) -> Away:
    """One spray tool behind a residential proxy pool: every attempt from a different home address
    in one of four countries, one account every twenty-five minutes through Sunday, all with the
    tool's user agent. No address and no network fails more than a few accounts; what ties them
    together is the tool and the steady timing. Nothing succeeds.
    """
    clock, log, rng = scene.clock, scene.log, scene.rng
    start = clock.start + 38 * HOUR + scene.jitter()
    for k, person in enumerate(targets):
        city, network = PROXY_POOL[k % len(PROXY_POOL)]
        at = start + k * 25 * MINUTE + rng.randrange(0, 300)
        log.add(person, at, app=AZURE_POWERSHELL, device=PROXY_SPRAY_TOOL, code=50126,
                ip=address(network, rng), asn=network.asn, location=log.location(city))
    return []


def slow_brute_force(scene: Scene, person: Person) -> Away:
    """One account tried for two days, one or two wrong passwords every two hours or so, each
    time from the next country and network of a rotation of five; never a success.

    Far under the 10-in-20-minutes brute-force rule, on purpose; sustained over many hours and
    sources it is an attack in progress (`medium`) that did not get in.
    """
    clock, log, rng = scene.clock, scene.log, scene.rng
    at = clock.start + 2 * HOUR + scene.jitter()
    turn = 0
    while at < clock.end - 4 * HOUR:
        city, network = ROTATION[turn % len(ROTATION)]
        where = {"ip": address(network, rng), "asn": network.asn,
                 "location": log.location(city)}
        for n in range(1 + turn % 2):
            log.add(person, at + n * 40, app=OFFICE_HOME, device=FIREFOX_LINUX, code=50126,
                    **where)
        turn += 1
        at += rng.randrange(100, 150) * MINUTE
    return []


def travel_across_window_start(scene: Scene, person: Person) -> Away:
    """The user's last sign-in of the week is from home at about 17:35 UTC on Friday; twenty-five
    minutes into the window the stolen session is replayed from a hosting network in Jakarta.

    The hop's first leg lies before the window: only a review that carries the last known place
    across the window's edge pairs them (about 11,000 km in under an hour).
    """
    clock, log = scene.clock, scene.log
    home = clock.start - 25 * MINUTE + scene.jitter(60)
    log.add(person, home, app=OFFICE_HOME, device=person.laptop, mfa=True,
            **scene.home(person, ipv6=False))
    there = _where(scene, "travel_across_window_start")
    at = clock.start + 25 * MINUTE + scene.jitter(120)
    log.add(person, at, app=OFFICE_HOME, device=CHROME_WINDOWS, mfa=True, **there)
    log.add(person, at + 8 * MINUTE, app=EXCHANGE, device=CHROME_WINDOWS, interactive=False,
            **there)
    return [(home + 1, clock.start)]  # the routine adds nothing after it: the week's last


def privileged_odd_hour_device(scene: Scene, person: Person) -> Away:
    """An Exchange Administrator's account opens the Azure portal at 02:40 on Sunday (local time)
    from the admin's own home broadband, on a Mac with Safari the admin has never used.

    The network is familiar; the hour and the device are not. On a privileged account that is at
    least `medium`: a stolen password used from a compromised home network looks exactly so.
    """
    clock = scene.clock
    at = clock.local(person.time_zone, clock.sunday, 2.67) + scene.jitter()
    scene.log.add(person, at, app=AZURE_PORTAL, device=UNUSED_MAC, mfa=True,
                  **scene.home(person, ipv6=False))
    return []
