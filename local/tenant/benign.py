"""Ordinary activity: the everyday routine behind every user, and the weekend's benign noise.

The routine is what a baseline learns from: workday sign-ins in business hours (local time) at
the office on office days and at home otherwise, token refreshes from desktop apps between them,
the phone refreshing mail over the carrier network every day, and weekend work for the few who
do it. The noise scenarios are the things that fool naive detections; each one is something
identity teams see every week and must not page anyone about (expected verdict at most `low`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from local.tenant import followed
from local.tenant.people import Person
from local.tenant.places import (
    CITIES,
    EXPENSE_APP,
    MICROSOFT,
    OFFICE_HOME,
    OUTLOOK_MOBILE,
    TEAMS,
    US_HOTEL_WIFI,
    VPN_EGRESS,
    WORK_APPS,
)
from local.tenant.protection import risk_detection, risky_user
from local.tenant.records import EMPTY_LOCATION, NULL_LOCATION
from local.tenant.scene import Away, Origin, Scene
from local.tenant.timeline import HOUR

REFRESH_APPS = (TEAMS, WORK_APPS[2], WORK_APPS[4])  # Teams, Exchange, OneDrive sync
PHONE_REFRESHES_PER_DAY = 1.2
WORKDAY_SPAN = 9 * HOUR - 300


def routine(scene: Scene, person: Person, per_workday: float, *, until: int | None = None,
            away: Sequence[tuple[int, int]] = ()) -> None:
    """Everyday sign-ins from history start to `until` (default: window end), minus `away`."""
    clock, random, log = scene.clock, scene.rng.random, scene.log
    lo, hi = clock.history_start, clock.end if until is None else until
    tz = person.time_zone

    def keep(at: int) -> bool:
        return lo <= at < hi and not (away and any(a <= at < b for a, b in away))

    for day in clock.days:
        weekday = day.weekday()
        if weekday < 5 or (person.works_weekends and (weekday == 5 or random() < 0.5)):
            at_office = weekday in person.office_days
            start = clock.local(tz, day, person.start_hour + random() * 0.7)
            count = int(per_workday) + (random() < per_workday % 1)
            if weekday >= 5:
                at_office, count = False, max(2, count // 3)
            _working_day(scene, person, start, count, at_office, keep)
        midnight = clock.midnight(tz, day)
        phone_session = log.guid()
        for _ in range(int(PHONE_REFRESHES_PER_DAY + random())):
            at = midnight + int((7.5 + random() * 14.5) * HOUR)
            if keep(at):
                log.add(person, at, app=OUTLOOK_MOBILE, device=person.phone, interactive=False,
                        correlation=phone_session, **scene.mobile(person))


def _working_day(scene: Scene, person: Person, start: int, count: int, at_office: bool,
                 keep: Callable[[int], bool]) -> None:
    """One day's work on the laptop; token refreshes share the day's session correlation id."""
    random, log, laptop = scene.rng.random, scene.log, person.laptop
    where = scene.office(person) if at_office else scene.home(person)
    if keep(start):
        first = random()
        if first < 0.04:  # "keep me signed in?" answered, then in
            log.add(person, start - 25, app=OFFICE_HOME, device=laptop, code=50140, **where)
        elif first < 0.07:  # a routine MFA prompt, then in
            log.add(person, start - 40, app=OFFICE_HOME, device=laptop, code=50074, **where)
        log.add(person, start, app=OFFICE_HOME, device=laptop, mfa=True, **where)
    session = log.guid()
    for _ in range(count - 1):
        at = start + 300 + int(random() * WORKDAY_SPAN)
        if not keep(at):
            continue
        roll = random()
        if roll < 0.65:
            log.add(person, at, app=REFRESH_APPS[int(roll * 4.6)], device=laptop,
                    interactive=False, correlation=session, **where)
        elif roll < 0.85:
            log.add(person, at, app=WORK_APPS[int((roll - 0.65) * 25)], device=laptop, mfa=True,
                    **where)
        else:
            log.add(person, at, app=OUTLOOK_MOBILE, device=person.phone, interactive=False,
                    **scene.mobile(person))


# --- weekend noise ---------------------------------------------------------------------------


def carrier_ip_churn(scene: Scene, person: Person) -> Away:
    """A day out on the phone: 8 carrier addresses, several cities, one country, one device.

    Mobile carriers route through regional gateways and hand out a new address on most
    connections, so a phone on a train shows a string of IPs geolocated to different cities of
    the same country within hours. Same device, same carrier ASN the baseline already knows.
    """
    clock, log = scene.clock, scene.log
    nearby = sorted((c for c in CITIES.values()
                     if c.country == person.country and c.name != person.home.name),
                    key=lambda c: abs(c.latitude - person.home.latitude)
                    + abs(c.longitude - person.home.longitude))[:4]
    route = [person.home, *nearby, *reversed(nearby[:3])]  # out and back: 8 stops
    at = clock.local(person.time_zone, clock.saturday, 9.5) + scene.jitter()
    for stop, city in enumerate(route):
        log.add(person, at, app=OUTLOOK_MOBILE if stop % 3 else TEAMS, device=person.phone,
                interactive=stop % 3 == 0, mfa=stop % 3 == 0, **scene.mobile(person, city))
        at += scene.rng.randrange(40, 75) * 60
    return []


def flight_abroad(scene: Scene, person: Person) -> Away:
    """London to New York on a Saturday flight, signing in before boarding and after landing.

    About 5,570 km in 8 hours (under 700 km/h). The traveller goes to the New York office often:
    the history holds a trip two weeks earlier through the same hotel network, so neither the
    country nor the network is new. A first-ever trip would be a fair `medium`; this is not one.
    """
    clock = scene.clock
    hotel = scene.elsewhere(US_HOTEL_WIFI, CITIES["New York"])
    earlier_monday = clock.saturday - timedelta(days=12)
    depart = clock.local("Europe/London", earlier_monday, 7.0) + scene.jitter()
    stay = (0.5, 2, 16, 19, 22, 40, 43, 46, 64, 67)
    home_again = depart + 9 * HOUR + 92 * HOUR
    _fly(scene, person, depart, depart + 9 * HOUR, stay, hotel)
    scene.log.add(person, home_again, app=OFFICE_HOME, device=person.laptop, mfa=True,
                  **scene.home(person, ipv6=False))
    depart_now = clock.local("Europe/London", clock.saturday, 7.5) + scene.jitter()
    landed = _fly(scene, person, depart_now, depart_now + 8 * HOUR, (0, 1.5, 3, 17, 19.5), hotel,
                  arrival_risk=DISMISSED_LOW_RISK)
    risk_detection(scene, person, landed, at=depart_now + 8 * HOUR,
                   risk_event_type="unfamiliarFeatures", level="low", state="dismissed",
                   detail="adminDismissedAllRiskForUser")
    return [(depart + 60, home_again), (depart_now + 60, clock.end)]


# Identity Protection rated the first sign-in after landing low risk (unfamiliar features); the
# help desk, told of the trip, dismissed it. A closed risk gives no finding, but the report's risk
# inventory still lists it: a reviewer sees every risk Microsoft raised in the window.
DISMISSED_LOW_RISK = ("low", "low", "dismissed", ["unfamiliarFeatures"])


def _fly(scene: Scene, person: Person, depart: int, arrive: int, stay: tuple[float, ...],
         hotel: Origin, arrival_risk: tuple[str, str, str, list[str]] | None = None
         ) -> dict[str, object]:
    """A last sign-in at home before leaving, then sign-ins at the destination's hotel; the
    first of those (which carries `arrival_risk`) is returned."""
    log = scene.log
    log.add(person, depart, app=OUTLOOK_MOBILE, device=person.phone, mfa=True,
            **scene.home(person, ipv6=False))
    landed: dict[str, object] = {}
    for hours in stay:
        at = arrive + int(hours * HOUR)
        if at < scene.clock.end:
            row = log.add(person, at, app=TEAMS if hours else OFFICE_HOME, device=person.laptop,
                          mfa=True, risk=None if landed else arrival_risk, **hotel)
            landed = landed or row
    return landed


def consent_storm(scene: Scene, person: Person) -> Away:
    """An app nobody consented to retries in a loop: dozens of 65001 in a few minutes, twice.

    65001 means admin consent is missing for a third-party app; it says nothing about the
    password. Storms like this come from a browser tab or add-in retrying silently.
    """
    clock, log, rng = scene.clock, scene.log, scene.rng
    where = scene.home(person, ipv6=False)
    for day, hour, count in ((clock.saturday, 11.2, 28), (clock.sunday, 16.4, 17)):
        at = clock.local(person.time_zone, day, hour) + scene.jitter()
        log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True, **where)
        for _ in range(count):
            at += rng.randrange(3, 9)
            log.add(person, at, app=EXPENSE_APP, device=person.laptop, code=65001, **where)
    return []


def mfa_interrupts(scene: Scene, person: Person) -> Away:
    """Interrupts that are not failures: 50140 (keep me signed in), 50074 and 50076 (MFA needed).

    Each is followed by the success it led to, from the same device and home network.
    """
    clock, log = scene.clock, scene.log
    where = scene.home(person, ipv6=False)
    for hour, code in ((10.0, 50140), (13.5, 50074), (18.25, 50076)):
        at = clock.local(person.time_zone, clock.saturday, hour) + scene.jitter()
        correlation = log.guid()
        log.add(person, at, app=OFFICE_HOME, device=person.laptop, code=code,
                correlation=correlation, **where)
        log.add(person, at + 35, app=OFFICE_HOME, device=person.laptop, mfa=True,
                correlation=correlation, **where)
    return []


def typo_then_success(scene: Scene, person: Person) -> Away:
    """A mistyped password (50126) two or three times, then in, from home on the usual laptop."""
    clock, log = scene.clock, scene.log
    where = scene.home(person, ipv6=False)
    for day, hour, typos in ((clock.saturday, 20.5, 2), (clock.sunday, 9.75, 3)):
        at = clock.local(person.time_zone, day, hour) + scene.jitter()
        for n in range(typos):
            log.add(person, at + 20 * n, app=OFFICE_HOME, device=person.laptop, code=50126,
                    **where)
        log.add(person, at + 20 * typos + 15, app=OFFICE_HOME, device=person.laptop, mfa=True,
                **where)
    followed.self_service_reset(scene, person, at + 20 * typos + 300, str(where["ip"]))
    return []


def weekend_worker(scene: Scene, person: Person) -> Away:
    """Someone who works weekends (their history shows it) doing so again, from home."""
    clock, log, rng = scene.clock, scene.log, scene.rng
    for day in (clock.saturday, clock.sunday):
        at = clock.local(person.time_zone, day, 10 + rng.random())
        for _ in range(6):
            log.add(person, at, app=rng.choice(WORK_APPS), device=person.laptop, mfa=True,
                    **scene.home(person))
            at += rng.randrange(20, 60) * 60
    return []


def empty_location(scene: Scene, person: Person) -> Away:
    """Sign-ins with no location: `{}` from Microsoft's own addresses, all-null from home.

    Graph leaves location empty for Microsoft-internal addresses and some non-interactive
    sign-ins; an empty location is not a new country.
    """
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 12.0) + scene.jitter()
    log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True,
            **scene.home(person, ipv6=False))
    for n in range(3):
        log.add(person, at + (n + 1) * 1800, app=REFRESH_APPS[1], device=person.laptop,
                interactive=False, ip=f"{MICROSOFT.ipv6_prefix}:{n + 1}::{n + 5}",
                asn=MICROSOFT.asn, location=EMPTY_LOCATION)
    log.add(person, at + 3 * HOUR, app=TEAMS, device=person.laptop, interactive=False,
            ip=person.home_ip, asn=person.home_isp.asn, location=NULL_LOCATION)
    return []


def ipv6_home(scene: Scene, person: Person) -> Away:
    """A dual-stack home: the weekend's sign-ins come over IPv6 from the usual /56."""
    clock, log = scene.clock, scene.log
    for hour in (9.0, 9.6, 15.2, 21.0):
        at = clock.local(person.time_zone, clock.saturday, hour) + scene.jitter()
        log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True,
                **scene.home(person, ipv6=True))
    return []


def risk_remediated_last_month(scene: Scene, person: Person) -> Away:
    """Identity Protection flagged this user weeks ago; a secured password reset remediated it.

    The riskyUsers entry is `remediated` at level `none`; the detection lies in the history,
    long before the window. A stale, closed risk is not a weekend compromise.
    """
    clock = scene.clock
    at = clock.local(person.time_zone, clock.saturday - timedelta(days=19), 14.0) + scene.jitter()
    sign_in = scene.log.add(person, at, app=OFFICE_HOME, device=person.phone, mfa=True,
                            **scene.mobile(person))
    risk_detection(scene, person, sign_in, at=at, risk_event_type="unfamiliarFeatures",
                   level="medium", state="remediated", detail="userPerformedSecuredPasswordReset")
    risky_user(scene, person, at=at + 2 * HOUR, level="none", state="remediated",
               detail="userPerformedSecuredPasswordReset")
    return []


def vpn_egress(scene: Scene, person: Person) -> Away:
    """Saturday work through the corporate VPN, whose egress is in Frankfurt: the tenant lists
    that range as a trusted named location.

    Geolocation puts the user in Germany twenty minutes after a sign-in at home in Britain; a
    VPN moves the apparent place, not the person. Same laptop, a trusted network.
    """
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 10.0) + scene.jitter()
    log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True,
            **scene.home(person, ipv6=False))
    city, network = VPN_EGRESS
    for n in range(4):
        log.add(person, at + 20 * 60 + n * 35 * 60, app=WORK_APPS[n % len(WORK_APPS)],
                device=person.laptop, mfa=True,
                **scene.elsewhere(network, city, ip=f"{network.ipv4_prefix}{14 + n}"))
    return []


def ordinary_weekend(scene: Scene, person: Person) -> Away:
    """A weekday worker catches up for an hour on Saturday or Sunday morning, at home, on the
    usual laptop: hours the baseline has never seen, and nothing else new. Context, not a
    verdict: most of a tenant does this some weekend.
    """
    clock, log, rng = scene.clock, scene.log, scene.rng
    day = clock.saturday if rng.random() < 0.5 else clock.sunday
    at = clock.local(person.time_zone, day, 9.5 + rng.random() * 2)
    where = scene.home(person, ipv6=False)
    for n in range(3):
        log.add(person, at + n * 20 * 60, app=WORK_APPS[n], device=person.laptop, mfa=True,
                **where)
    followed.new_phone_at_home(scene, person, at + 25 * 60, str(where["ip"]))
    return []
