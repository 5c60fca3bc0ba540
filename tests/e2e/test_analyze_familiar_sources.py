"""A month of a 5,000-user tenant (bench.analyze_bench.write_month): every user signs in from
one of three addresses of a home network with one registered device, and the whole fleet sends
one browser build's user agent, so the users who mistype their password now and then form, over
the weekend, a pattern of many addresses sharing a user agent and failing many accounts, each
account then signing in from the same address. Those are people at home, not a spray: no
`password_spray` for them. A distributed spray planted in the same weekend, through addresses in
forty networks and sending the same user agent, is found, and the two accounts it got into are
`high`."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.analyze_bench import write_month
from shared.cli import main

ROWS = 200_000  # the shape of the 300,000-row month, smaller (checked below)
WINDOW = ("--window-start", "2025-03-28T18:00:00Z", "--window-end", "2025-03-31T06:00:00Z")
FLEET_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/121.0"  # write_month's agent
SPRAY_START = datetime(2025, 3, 29, 22, 0, tzinfo=UTC)
TARGETS = [f"user-{n:05d}" for n in range(7, 5000, 83)]  # 61 accounts across the tenant
VICTIMS = TARGETS[:2]


def _row(number: int, user: str, at: datetime, ip: str, asn: int, code: int) -> dict[str, object]:
    upn = f"user{int(user.split('-')[1])}@contoso.com"
    return {
        "id": f"spray-{number}", "createdDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userId": user, "userPrincipalName": upn, "ipAddress": ip, "isInteractive": True,
        "clientAppUsed": "Browser", "status": {"errorCode": code},
        "location": {"city": "Bucharest", "countryOrRegion": "RO",
                     "geoCoordinates": {"latitude": 44.4268, "longitude": 26.1025}},
        "autonomousSystemNumber": asn, "userAgent": FLEET_AGENT,
        "deviceDetail": {"operatingSystem": "Windows 10", "browser": "Edge 121.0"},
    }


def _plant_spray(folder: Path) -> None:
    """One password per account, from 40 addresses in 40 networks (proxies), every 4 minutes
    for four hours; then the sprayer signs in as two of the accounts from two of its addresses."""
    rows = []
    for n, user in enumerate(TARGETS):
        proxy = n % 40
        rows.append(_row(n, user, SPRAY_START + timedelta(minutes=4 * n),
                         f"45.{10 + proxy}.{proxy * 3}.9", 60000 + proxy, 50126))
    for n, user in enumerate(VICTIMS):
        proxy = n % 40
        rows.append(_row(1000 + n, user, SPRAY_START + timedelta(hours=5, minutes=n),
                         f"45.{10 + proxy}.{proxy * 3}.9", 60000 + proxy, 0))
    (folder / "20250329-planted-spray.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("month")
    write_month(folder, ROWS)
    return folder


def _window_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.iterdir()):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "2025-03-28T18:00:00Z" <= row["createdDateTime"] <= "2025-03-31T06:00:00Z":
                rows.append(row)
    return sorted(rows, key=lambda row: row["createdDateTime"])


def test_the_month_has_the_shape_that_looked_like_a_spray(month):
    """Many accounts fail from their own addresses with one agent, and accounts sign in from
    those addresses afterwards (five users share each home network, as behind carrier-grade
    NAT): what a distributed spray that got in looks like, tenant-wide. (At 300,000 rows the
    review called 97 of them `high`; at this size, 17.)"""
    rows = _window_rows(month)
    failed: dict[str, set[str]] = defaultdict(set)
    first_failure: dict[str, str] = {}
    for row in rows:
        if row["status"]["errorCode"] == 50126:
            failed[row["userId"]].add(row["ipAddress"])
            first_failure.setdefault(row["ipAddress"], row["createdDateTime"])
    later_success = {row["userId"] for row in rows if row["status"]["errorCode"] == 0
                     and row["createdDateTime"] > first_failure.get(row["ipAddress"], "~")}
    addresses = set().union(*failed.values())
    assert len(failed) >= 80 and len(addresses) >= 80 and len(later_success) >= 15
    assert {row["userAgent"] for row in rows} == {FLEET_AGENT}


@pytest.mark.parametrize("spilled", [False, True])
def test_people_at_home_are_not_a_spray_and_the_planted_one_is_found(month, tmp_path, capsys,
                                                                     spilled):
    out = tmp_path / "review.json"
    args = ["analyze", str(month), *WINDOW, "--quiet", "--output", "json", "--out", str(out)]
    assert main(args + (["--spill-above", "0"] if spilled else [])) == 0
    without = json.loads(out.read_text())
    assert without["campaigns"] == []
    assert not [u["userId"] for u in without["users"] if u["verdict"] != "none"]

    planted = tmp_path / "planted"
    planted.mkdir()
    for path in month.iterdir():
        (planted / path.name).symlink_to(path)
    _plant_spray(planted)
    args[1] = str(planted)
    assert main(args + (["--spill-above", "0"] if spilled else [])) == 0
    capsys.readouterr()
    review = json.loads(out.read_text())
    (campaign,) = review["campaigns"]
    assert campaign["kind"] == "cluster" and len(campaign["addresses"]) == 40
    assert sorted(campaign["triedUsers"]) == sorted(TARGETS)
    assert campaign["succeededUsers"] == sorted(VICTIMS)
    sprayed = {u["userId"]: u for u in review["users"]
               if any(f["type"] == "password_spray" for f in u["findings"])}
    assert set(sprayed) == set(TARGETS)  # nobody else: the fleet's typos stay quiet
    assert {user for user, u in sprayed.items() if u["verdict"] == "high"} == set(VICTIMS)
    assert all(u["gotIn"] for user, u in sprayed.items() if user in VICTIMS)
