"""The staff of the sample tenant: who they are, where they live, what they sign in with.

Each person has a home city near one of the company's offices (so a time zone), a home ISP with
a stable address (and IPv6 where the ISP offers it, as dual-stack homes show in Entra), a mobile
carrier whose addresses change on every sign-in, a laptop and a phone with stable device ids, and
working habits: office days, hours, and for a few, weekends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from local.tenant.places import CITIES, HOME_ISPS, MOBILE_CARRIERS, OFFICES, City, Network, Office

DOMAIN = "contoso.com"

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "GB": ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Jack", "Aoife",
           "Charlie", "Grace", "Thomas", "Freya", "Oscar", "Emily", "James", "Poppy"),
    "DE": ("Lukas", "Mia", "Jürgen", "Hannah", "Felix", "Lea", "Jonas", "Emma", "Maximilian",
           "Sophie", "Paul", "Marie", "Leon", "Anna", "Elias", "Lena"),
    "US": ("Liam", "Olivia", "Ethan", "Sophia", "Mason", "Isabella", "Logan", "Charlotte",
           "Lucas", "Harper", "Aiden", "Evelyn", "Jackson", "Abigail", "Mateo", "Camila"),
    "AU": ("William", "Chloe", "Lachlan", "Zoe", "Cooper", "Ruby", "Riley", "Matilda"),
}
SURNAMES: dict[str, tuple[str, ...]] = {
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "O'Brien", "Walker",
           "Hughes", "Patel", "Khan", "Wright", "Roberts", "O'Neill", "Clarke", "Hall", "Green"),
    "DE": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann"),
    "US": ("Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Anderson", "Thomas",
           "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Nguyen"),
    "AU": ("Kelly", "Murphy", "Ryan", "Campbell", "Stewart", "Mitchell", "Cooper", "Ward"),
}
DEPARTMENTS = (("Finance", "Financial Analyst"), ("Sales", "Account Executive"),
               ("Engineering", "Software Engineer"), ("IT", "Systems Administrator"),
               ("Legal", "Counsel"), ("Marketing", "Marketing Manager"),
               ("Operations", "Operations Coordinator"), ("HR", "HR Business Partner"))
_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": ""})


@dataclass(frozen=True)
class Device:
    """A device as sign-ins show it: the deviceDetail object (shared, read-only) and its agent."""

    detail: dict[str, object]
    user_agent: str

    @property
    def device_id(self) -> str:
        return str(self.detail["deviceId"])


@dataclass(frozen=True)
class Person:
    index: int
    id: str
    upn: str
    display_name: str
    given_name: str
    surname: str
    department: str
    job_title: str
    office: Office
    home: City
    home_isp: Network
    home_ip: str
    home_ipv6: str  # empty when the home ISP gives no IPv6
    carrier: Network
    laptop: Device
    phone: Device
    office_days: tuple[int, ...]  # weekday numbers, Monday 0
    start_hour: int  # local time the working day starts
    works_weekends: bool

    @property
    def time_zone(self) -> str:
        return self.home.time_zone

    @property
    def country(self) -> str:
        return self.home.country


def guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def address(network: Network, rng: random.Random) -> str:
    """A host address inside the network's IPv4 prefix."""
    random = rng.random
    if network.ipv4_prefix.count(".") == 3:
        return f"{network.ipv4_prefix}{int(random() * 254) + 1}"
    return f"{network.ipv4_prefix}{int(random() * 256)}.{int(random() * 254) + 1}"


def ipv6_home_address(network: Network, rng: random.Random) -> str:
    """An address in a customer /56 of the ISP's IPv6 space (stable per home)."""
    return (f"{network.ipv6_prefix}{rng.randrange(0x1000, 0xFFFF):x}:"
            f"{rng.randrange(0x100, 0xFFFF):x}:{rng.randrange(0x1000, 0xFFFF):x}:"
            f"{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0x1000, 0xFFFF):x}:"
            f"{rng.randrange(0x1000, 0xFFFF):x}")


def _laptop(rng: random.Random, tag: str) -> Device:
    if rng.random() < 0.75:
        detail = {"deviceId": guid(rng), "displayName": f"LT-{tag}", "operatingSystem": "Windows10",
                  "browser": "Edge 122.0.0", "isCompliant": True, "isManaged": True,
                  "trustType": "Azure AD joined"}
        agent = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                 " Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.92")
    else:
        detail = {"deviceId": guid(rng), "displayName": f"MBP-{tag}", "operatingSystem": "MacOs",
                  "browser": "Chrome 122.0.0", "isCompliant": True, "isManaged": True,
                  "trustType": "Azure AD registered"}
        agent = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
                 " (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36")
    return Device(detail, agent)


def _phone(rng: random.Random, tag: str) -> Device:
    if rng.random() < 0.6:
        detail = {"deviceId": guid(rng), "displayName": f"iPhone-{tag}", "operatingSystem": "Ios",
                  "browser": "Mobile Safari 17.3", "isCompliant": True, "isManaged": True,
                  "trustType": "Azure AD registered"}
        agent = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15"
                 " (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1")
    else:
        detail = {"deviceId": guid(rng), "displayName": f"Android-{tag}",
                  "operatingSystem": "Android", "browser": "Chrome Mobile 122.0.6261",
                  "isCompliant": True, "isManaged": True, "trustType": "Azure AD registered"}
        agent = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
                 " Chrome/122.0.6261.105 Mobile Safari/537.36")
    return Device(detail, agent)


def _offices_by_quota(users: int) -> list[Office]:
    """Offices in exact proportion to their share, interleaved so any prefix is mixed."""
    offices = list(OFFICES.values())
    chosen: list[Office] = []
    counts = dict.fromkeys(range(len(offices)), 0)
    for i in range(users):
        gaps = [(o.share * (i + 1) - counts[k], -k) for k, o in enumerate(offices)]
        k = -max(gaps)[1]
        counts[k] += 1
        chosen.append(offices[k])
    return chosen


def _unique_upn(given: str, surname: str, taken: set[str]) -> str:
    base = f"{given}.{surname}".lower().translate(_ASCII)
    upn, n = f"{base}@{DOMAIN}", 1
    while upn in taken:
        n += 1
        upn = f"{base}{n}@{DOMAIN}"
    taken.add(upn)
    return upn


def make_people(users: int, rng: random.Random) -> list[Person]:
    people: list[Person] = []
    taken: set[str] = set()
    for index, office in enumerate(_offices_by_quota(users)):
        home = CITIES[rng.choice(office.home_cities)]
        country = home.country
        given, surname = rng.choice(FIRST_NAMES[country]), rng.choice(SURNAMES[country])
        isp = rng.choice(HOME_ISPS[country])
        department, title = rng.choice(DEPARTMENTS)
        tag = f"{rng.getrandbits(24):06X}"
        people.append(Person(
            index=index, id=guid(rng), upn=_unique_upn(given, surname, taken),
            display_name=f"{given} {surname}", given_name=given, surname=surname,
            department=department, job_title=title, office=office, home=home,
            home_isp=isp, home_ip=address(isp, rng),
            home_ipv6=ipv6_home_address(isp, rng) if isp.ipv6_prefix else "",
            carrier=rng.choice(MOBILE_CARRIERS[country]),
            laptop=_laptop(rng, tag), phone=_phone(rng, tag),
            office_days=tuple(sorted(rng.sample(range(5), rng.choice((2, 3, 3, 5))))),
            start_hour=rng.choice((7, 8, 8, 9, 9, 10)), works_weekends=rng.random() < 0.06,
        ))
    return people


def graph_user(person: Person, *, enabled: bool = True) -> dict[str, object]:
    """The person as GET /users/{id} returns them."""
    return {
        "id": person.id,
        "userPrincipalName": person.upn,
        "displayName": person.display_name,
        "givenName": person.given_name,
        "surname": person.surname,
        "mail": person.upn,
        "jobTitle": person.job_title,
        "department": person.department,
        "officeLocation": person.office.city.name,
        "city": person.home.name,
        "country": person.home.country,
        "usageLocation": person.home.country,
        "preferredLanguage": "de-DE" if person.country == "DE" else "en-" + person.country,
        "accountEnabled": enabled,
        "userType": "Member",
    }


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant
