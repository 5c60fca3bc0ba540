"""Accounts without a history, legacy protocols and the device code flow, benign beside hostile.

- new_hire_taken_over (attack): an account created days before the weekend, never used: its first
  sign-ins are an attacker's, failures then a success from Jakarta at night. No history, so the
  review judges it against the tenant's baseline (a country the tenant never sees, after
  failures): `high`.
- new_hire_first_day (benign): a new hire (no history) sets up MFA on Sunday evening at home, in
  one of the tenant's countries: nothing.
- guest_first_visit (benign): a guest's first visit (no history), from the office city of a
  partner in one of the tenant's countries, on Saturday morning: nothing.
- legacy_protocol_success (attack): a slow password guess over IMAP4 from one hosting address
  through Friday night, then the mailbox is read over IMAP4 from there: no MFA was asked; a brute
  force that got in, whatever its pace: `high`.
- device_code_phishing (attack): the user enters an attacker's device code at home (the real MFA
  is passed; Storm-2372, Microsoft Threat Intelligence, February 2025:
  https://www.microsoft.com/en-us/security/blog/2025/02/13/storm-2372-conducts-device-code-phishing-campaign/),
  and the tokens are used from a hosting network in Sao Paulo minutes later (a device registered
  with them signs in, as the report's second stage describes): `high`. The device
  code fields (`authenticationProtocol`, `originalTransferMethod`) are Graph beta's
  (https://learn.microsoft.com/en-us/graph/api/resources/signin?view=graph-rest-beta); on v1.0
  the tokens' use from a new country still says it.
- conference_room_device_code (benign): a meeting-room display's account signs in by device code
  from the office, on its registered device, and uses its tokens there: nothing.

The accounts without a history get no routine before the window (see `NO_HISTORY`). These parts
are cast only in tenants with room for them (`truth.NEWCOMERS`).
"""

from __future__ import annotations

from local.tenant.people import Person
from local.tenant.places import CITIES, EXCHANGE, OFFICE_HOME, TEAMS, App, Network
from local.tenant.records import attacker_device
from local.tenant.scene import Away, Scene
from local.tenant.timeline import HOUR

MINUTE = 60
IMAP = App(EXCHANGE.app_id, EXCHANGE.name, "IMAP4")
BROKER = App("29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker",
             "Mobile Apps and Desktop clients")
ATTACKER = attacker_device("Windows10", "Chrome 122.0.0")
IMAP_TOOL = attacker_device("", "", "")
NO_HISTORY = frozenset({"new_hire_taken_over", "new_hire_first_day", "guest_first_visit"})
_JAKARTA = (CITIES["Jakarta"], Network("Telkom Indonesia", 7713, "36.66.", kind="residential"))
_IMAP_HOST = (CITIES["Frankfurt am Main"], Network("Hetzner", 24940, "88.198.", kind="hosting"))
_TOKEN_HOST = (CITIES["Sao Paulo"], Network("Locaweb", 27715, "186.202.", kind="hosting"))


def new_hire_taken_over(scene: Scene, person: Person) -> Away:
    """Five wrong passwords and then the right one, 01:40 to 02:05 UTC on Saturday, from Jakarta,
    then the mailbox read: the account's very first sign-ins."""
    clock, log = scene.clock, scene.log
    at = clock.start + 7 * HOUR + 40 * MINUTE + scene.jitter()
    there = scene.elsewhere(_JAKARTA[1], _JAKARTA[0])
    for n in range(5):
        log.add(person, at + n * 4 * MINUTE, app=OFFICE_HOME, device=ATTACKER, code=50126,
                **there)
    log.add(person, at + 25 * MINUTE, app=OFFICE_HOME, device=ATTACKER, **there)
    for minutes in (31, 55):
        log.add(person, at + minutes * MINUTE, app=EXCHANGE, device=ATTACKER, interactive=False,
                **there)
    return []


def new_hire_first_day(scene: Scene, person: Person) -> Away:
    """Sunday 19:00 at home: MFA registration asked (50074), then the sign-in with MFA, then
    the phone's mail app."""
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.sunday, 19.0) + scene.jitter()
    home = scene.home(person, ipv6=False)
    log.add(person, at, app=OFFICE_HOME, device=person.laptop, code=50074, **home)
    log.add(person, at + 3 * MINUTE, app=OFFICE_HOME, device=person.laptop, mfa=True, **home)
    log.add(person, at + 20 * MINUTE, app=TEAMS, device=person.phone, interactive=False,
            **scene.mobile(person))
    return []


def guest_first_visit(scene: Scene, person: Person) -> Away:
    """Saturday 10:00: a partner's consultant opens a shared document from their office."""
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 10.0) + scene.jitter()
    office = scene.office(person)
    log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True, **office)
    log.add(person, at + 15 * MINUTE, app=TEAMS, device=person.laptop, interactive=False,
            **office)
    return []


def legacy_protocol_success(scene: Scene, person: Person) -> Away:
    """Eight wrong passwords over IMAP4, one every 45 minutes from 22:00 UTC Friday, never a
    burst; at 04:00 the password works and the mailbox is read over IMAP4 until morning."""
    clock, log = scene.clock, scene.log
    at = clock.start + 4 * HOUR + scene.jitter(120)
    there = scene.elsewhere(_IMAP_HOST[1], _IMAP_HOST[0])
    for n in range(8):
        log.add(person, at + n * 45 * MINUTE, app=IMAP, device=IMAP_TOOL, code=50126, **there)
    success = at + 8 * 45 * MINUTE
    for n in range(4):
        log.add(person, success + n * 40 * MINUTE, app=IMAP, device=IMAP_TOOL, **there)
    return []


def device_code_phishing(scene: Scene, person: Person) -> Away:
    """Saturday 11:00 at home, on the user's own laptop with MFA: a device-code sign-in to the
    authentication broker; from 11:06 its tokens are used from Sao Paulo (mail and Graph)."""
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 11.0) + scene.jitter()
    row = log.add(person, at, app=BROKER, device=person.laptop, mfa=True,
                  **scene.home(person, ipv6=False))
    _by_device_code(row)
    there = scene.elsewhere(_TOKEN_HOST[1], _TOKEN_HOST[0])
    # The broker's refresh token registers the attacker's device and gets it a Primary Refresh
    # Token, which then signs in interactively (the report's second stage); then token refreshes.
    log.add(person, at + 6 * MINUTE, app=OFFICE_HOME, device=ATTACKER, mfa=True, **there)
    for minutes in (24, 70):
        log.add(person, at + minutes * MINUTE, app=BROKER, device=ATTACKER, interactive=False,
                **there)
    return [(at + 60, clock.end)]


def conference_room_device_code(scene: Scene, person: Person) -> Away:
    """Friday 19:30 at the office (an evening event): the room display signs in to Teams by
    device code on its registered device, and keeps its session there for the evening."""
    clock, log = scene.clock, scene.log
    day = clock.window.start.date()
    at = clock.local(person.time_zone, day, 19.5) + scene.jitter()
    if at < clock.start:
        at = clock.start + scene.jitter()
    office = scene.office(person)
    row = log.add(person, at, app=TEAMS, device=person.laptop, mfa=True, **office)
    _by_device_code(row)
    for minutes in (30, 90):
        log.add(person, at + minutes * MINUTE, app=TEAMS, device=person.laptop,
                interactive=False, **office)
    return []


def _by_device_code(row: dict[str, object]) -> None:
    row["authenticationProtocol"] = "deviceCode"
    row["originalTransferMethod"] = "deviceCodeFlow"
