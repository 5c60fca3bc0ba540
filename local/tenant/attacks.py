"""The planted attacks: one account each (the spray hits many), at times nobody is watching.

Each function documents what it simulates and why it looks like this in real logs. Attack
accounts work in Europe, so their own routine has no business hours inside the weekend window;
what the window shows for them is the attack and, where the story needs it, their own sign-in
just before. Attacker addresses come from `places.ATTACKER_NETWORKS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from local.tenant import followed
from local.tenant.people import Person
from local.tenant.places import (
    ATTACKER_NETWORKS,
    AZURE_PORTAL,
    AZURE_POWERSHELL,
    EXCHANGE,
    OFFICE_HOME,
    OUTLOOK_MOBILE,
)
from local.tenant.protection import risk_detection, risky_user
from local.tenant.records import attacker_device
from local.tenant.scene import Away, Origin, Scene
from local.tenant.timeline import DAY, HOUR

MINUTE = 60
FIREFOX_LINUX = attacker_device("Linux", "Firefox 123.0")
CHROME_WINDOWS = attacker_device("Windows10", "Chrome 121.0.0")
SPRAY_TOOL = attacker_device("", "", "python-requests/2.31.0")
TOR_BROWSER = attacker_device("Windows10", "Firefox 115.0", "Mozilla/5.0 (Windows NT 10.0;"
                              " rv:115.0) Gecko/20100101 Firefox/115.0")
MFA_DENIED = ("MFA denied; user did not respond to mobile app notification",
              "MFA denied; user declined the authentication")


def _where(scene: Scene, scenario: str) -> Origin:
    city, network = ATTACKER_NETWORKS[scenario]
    return scene.elsewhere(network, city)


def impossible_travel(scene: Scene, person: Person) -> Away:
    """The user signs in at home; an hour later their session is used from Lagos.

    Adversary-in-the-middle phishing steals the session cookie, which the attacker replays at
    once from their own machine: about 5,000 km in one hour, a device the user never had, a
    country and network the user never used. The token carries the MFA claim, so it succeeds.
    """
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 9.5) + scene.jitter()
    log.add(person, at, app=OFFICE_HOME, device=person.laptop, mfa=True,
            **scene.home(person, ipv6=False))
    abroad = _where(scene, "impossible_travel")
    log.add(person, at + HOUR, app=OFFICE_HOME, device=CHROME_WINDOWS, mfa=True, **abroad)
    followed.registers_authenticator(scene, person, at + HOUR + 4 * MINUTE + 12, abroad["ip"])
    for minutes in (6, 21):
        log.add(person, at + HOUR + minutes * MINUTE, app=EXCHANGE, device=CHROME_WINDOWS,
                interactive=False, **abroad)
    return [(at + 60, clock.end)]


def new_country_success(scene: Scene, person: Person) -> Away:
    """A success at 02:10 UTC on Sunday from Vietnam, a country and ASN the user never used.

    Credential stuffing with a password reused elsewhere; the last real sign-in was Friday
    afternoon, so the speed is plausible and only the place gives it away.
    """
    clock, log = scene.clock, scene.log
    at = clock.start + 32 * HOUR + 10 * MINUTE + scene.jitter()
    there = _where(scene, "new_country_success")
    log.add(person, at, app=OFFICE_HOME, device=FIREFOX_LINUX, **there)
    followed.consents_mail_app(scene, person, at + 12 * MINUTE, there["ip"])
    for minutes in (3, 30):
        log.add(person, at + minutes * MINUTE, app=EXCHANGE, device=FIREFOX_LINUX,
                interactive=False, **there)
    return []


def password_spray(scene: Scene, victim: Person, targets: Sequence[Person]) -> Away:
    """One address fails every targeted account with 50126 in two rounds; the victim falls.

    Spray tools try one or two common passwords per account per round to stay under Smart
    Lockout, through legacy or ROPC flows that skip MFA. Round one (02:04 UTC Saturday) fails
    everyone; in round two the victim's password matches, and the tool uses the token at once.
    All within 16 minutes from a single hosting address.
    """
    clock, log = scene.clock, scene.log
    spray = _where(scene, "password_spray")
    everyone = [*targets[: len(targets) // 2], victim, *targets[len(targets) // 2:]]
    first_round = clock.start + 8 * HOUR + 4 * MINUTE + scene.jitter()
    for round_start in (first_round, first_round + 9 * MINUTE):
        for k, person in enumerate(everyone):
            at = round_start + k * 7 * MINUTE // len(everyone) + scene.rng.randrange(0, 3)
            code = 0 if person is victim and round_start > first_round else 50126
            log.add(person, at, app=AZURE_POWERSHELL, device=SPRAY_TOOL, code=code, **spray)
            if code == 0:
                log.add(person, at + 70, app=EXCHANGE, device=SPRAY_TOOL, interactive=False,
                        **spray)
    return []


def brute_force(scene: Scene, person: Person) -> Away:
    """Sixteen wrong passwords in 13 minutes, then Smart Lockout (50053) four times; no success.

    An attacker hammering one account they care about; lockout stops them. An attack in
    progress (`medium`), not a compromise: the password was never validated.
    """
    clock, log = scene.clock, scene.log
    at = clock.start + 28 * HOUR + 40 * MINUTE + scene.jitter()
    there = _where(scene, "brute_force")
    for n in range(20):
        log.add(person, at, app=OFFICE_HOME, device=FIREFOX_LINUX,
                code=50126 if n < 16 else 50053, **there)
        at += 50 if n < 16 else 75
    return []


def mfa_fatigue(scene: Scene, person: Person) -> Away:
    """The attacker has the password (50074: MFA required) and pushes prompts until one is accepted.

    Ten MFA denials or unanswered notifications (500121) in eight minutes, then the worn-down
    user approves and the attacker is in: the pattern behind several well-known breaches.
    """
    clock, log, rng = scene.clock, scene.log, scene.rng
    at = clock.start + 30 * HOUR + 50 * MINUTE + scene.jitter()
    there = _where(scene, "mfa_fatigue")
    correlation = log.guid()
    log.add(person, at, app=OFFICE_HOME, device=CHROME_WINDOWS, code=50074,
            correlation=correlation, **there)
    for n in range(10):
        at += 30 + rng.randrange(0, 20)
        log.add(person, at, app=OFFICE_HOME, device=CHROME_WINDOWS, code=500121, mfa=True,
                details=MFA_DENIED[n % 3 == 2], correlation=correlation, **there)
    log.add(person, at + 40, app=OFFICE_HOME, device=CHROME_WINDOWS, mfa=True,
            details="MFA completed in Azure AD", correlation=correlation, **there)
    log.add(person, at + 200, app=EXCHANGE, device=CHROME_WINDOWS, interactive=False, **there)
    followed.forwarding_rule(scene, person)
    return []


def privileged_thin_anomaly(scene: Scene, person: Person) -> Away:
    """A Global Administrator signs in once, at 03:00 on Sunday, from Sofia, to the Azure portal.

    Nothing else: no failures, no burst, the admin's usual browser on an unregistered device.
    Thin evidence, but a new country and network at night on a tenant-wide role is how a
    stolen admin session looks, and privileged accounts escalate on thin evidence.
    """
    clock = scene.clock
    at = clock.local(person.time_zone, clock.sunday, 3.0) + scene.jitter()
    device = attacker_device(str(person.laptop.detail["operatingSystem"]),
                             str(person.laptop.detail["browser"]), person.laptop.user_agent)
    scene.log.add(person, at, app=AZURE_PORTAL, device=device, mfa=True,
                  **_where(scene, "privileged_thin_anomaly"))
    return []


def disabled_account(scene: Scene, person: Person) -> Away:
    """A leaver disabled a week ago: the old phone keeps trying, then someone else does (50057).

    Attempts on a disabled account cannot succeed, but a password tried from abroad means the
    credential is out there (worth a look, reused elsewhere?).
    """
    clock, log = scene.clock, scene.log
    at = clock.local(person.time_zone, clock.saturday, 8.0) + scene.jitter()
    for n in range(4):
        log.add(person, at + n * 47 * MINUTE, app=OUTLOOK_MOBILE, device=person.phone,
                interactive=False, code=50057, **scene.mobile(person))
    there = _where(scene, "disabled_account")
    at = clock.start + 34 * HOUR + scene.jitter()
    for n in range(5):
        log.add(person, at + n * 40, app=OFFICE_HOME, device=FIREFOX_LINUX, code=50057, **there)
    return [(clock.start - 8 * DAY, clock.end)]


def risky_sign_in(scene: Scene, person: Person) -> Away:
    """A success through a Tor exit node, which Identity Protection rates high in real time.

    riskLevelDuringSignIn high with anonymizedIPAddress, the matching riskDetection, and the
    user raised to high risk in riskyUsers: the tenant's own licensed signal for compromise.
    """
    clock, log = scene.clock, scene.log
    at = clock.start + 29 * HOUR + 15 * MINUTE + scene.jitter()
    risk = ("high", "high", "atRisk", ["anonymizedIPAddress"])
    sign_in = log.add(person, at, app=OFFICE_HOME, device=TOR_BROWSER, risk=risk,
                      **_where(scene, "risky_sign_in"))
    risk_detection(scene, person, sign_in, at=at, risk_event_type="anonymizedIPAddress",
                   level="high")
    risky_user(scene, person, at=at + 10, level="high", state="atRisk")
    return []
