"""Identity Protection records: riskDetections and riskyUsers, in Graph's v1.0 shapes."""

from __future__ import annotations

import json

from local.tenant.people import Person
from local.tenant.scene import Scene


def risk_detection(scene: Scene, person: Person, sign_in: dict[str, object] | None, *,
                   at: int, risk_event_type: str, level: str, state: str = "atRisk",
                   detail: str = "none", timing: str = "realtime") -> dict[str, object]:
    """A riskDetection about `person`, tied to `sign_in` (requestId) when there is one."""
    log = scene.log
    source = sign_in or {}
    detection: dict[str, object] = {
        "id": f"{scene.rng.getrandbits(256):064x}",
        "requestId": source.get("id"),
        "correlationId": source.get("correlationId"),
        "riskEventType": risk_event_type,
        "riskState": state,
        "riskLevel": level,
        "riskDetail": detail,
        "source": "IdentityProtection",
        "detectionTimingType": timing,
        "activity": "signin",
        "tokenIssuerType": "AzureAD",
        "ipAddress": source.get("ipAddress"),
        "location": source.get("location"),
        "activityDateTime": log.iso(at),
        "detectedDateTime": log.iso(at + (5 if timing == "realtime" else 3 * 3600)),
        "lastUpdatedDateTime": log.iso(at + 600),
        "userId": person.id,
        "userDisplayName": person.display_name,
        "userPrincipalName": person.upn,
        "additionalInfo": json.dumps([{"Key": "userAgent", "Value": source.get("userAgent")}]),
    }
    scene.risk_detections.append(detection)
    return detection


def risky_user(scene: Scene, person: Person, *, at: int, level: str, state: str,
               detail: str = "none") -> dict[str, object]:
    user: dict[str, object] = {
        "id": person.id,
        "isDeleted": False,
        "isProcessing": False,
        "riskLastUpdatedDateTime": scene.log.iso(at),
        "riskLevel": level,
        "riskState": state,
        "riskDetail": detail,
        "userDisplayName": person.display_name,
        "userPrincipalName": person.upn,
    }
    scene.risky_users.append(user)
    return user
