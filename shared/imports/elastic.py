"""Elastic (ECS) documents of Entra sign-ins, as the Azure integration of Filebeat / Elastic
Agent indexes them (elastic/integrations packages/azure/data_stream/signinlogs).

A document keeps the raw diagnostic record in `event.original` when the integration's
`preserve_original_event` tag is set; that record is read as Azure Monitor's. Otherwise the
mapped fields are used: `azure.signinlogs.properties.*` in snake case (`created_at`,
`user_principal_name`, `status.error_code`, ...), the envelope (`result_type`, `category`) beside
them, and the place and network in ECS fields (`geo.*`, `source.ip`, `source.as.number`).
Documents come one a line (an export of `_source`s or of whole hits), as a JSON array, or as an
Elasticsearch `_search` response (`{"hits": {"hits": [{"_source": ...}]}}`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

from shared.imports import azure_monitor
from shared.imports.records import RowError
from shared.model import SignIn

_RENAMED = {  # ECS property name -> Graph signIn field, where camel-casing is not enough
    "created_at": "createdDateTime",
    "risk_level_during_signin": "riskLevelDuringSignIn",
    "risk_event_types_v2": "riskEventTypes_v2",
    "country_or_region": "countryOrRegion",
}


def search_hits(top: dict[str, msgspec.Raw]) -> list[msgspec.Raw] | None:
    """The hits of an Elasticsearch `_search` response, or None when `top` is not one."""
    if "hits" not in top:
        return None
    try:
        hits = msgspec.json.decode(top["hits"], type=dict[str, msgspec.Raw])
        return msgspec.json.decode(hits["hits"], type=list[msgspec.Raw])
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
        return None


def sign_in_from_document(document: dict[str, Any], fallback_id: str,
                          aside: Counter[str] | None = None) -> SignIn:
    """One ECS document (or Elasticsearch hit) -> SignIn."""
    source = document.get("_source", document)
    if not isinstance(source, dict):
        raise RowError("_source is not an object", reason="not a sign-in document")
    original = _object(source, "event").get("original")
    if isinstance(original, str) and original.lstrip().startswith("{"):
        try:
            record = msgspec.json.decode(original)
        except msgspec.DecodeError:
            raise RowError("event.original holds malformed JSON",
                           reason="malformed JSON in event.original") from None
        if isinstance(record, dict):
            return azure_monitor.sign_in_from_record(record, fallback_id, aside)
    return azure_monitor.sign_in_from_record(_record_of(source), fallback_id, aside)


def _record_of(source: dict[str, Any]) -> dict[str, Any]:
    """The Azure Monitor record an ECS document was mapped from, as far as it can be rebuilt."""
    azure = source.get("azure")
    logs = azure.get("signinlogs") if isinstance(azure, dict) else None
    if not isinstance(logs, dict) or not isinstance(logs.get("properties"), dict):
        raise RowError("no azure.signinlogs.properties and no event.original",
                       reason="not a sign-in document")
    properties = _camel_keys(logs["properties"])
    client = _object(source, "source")
    # Top-level `geo` is Entra's own location of the sign-in; `source.geo` is Elastic's GeoIP
    # lookup of the address (the sample puts one in FR, the other in AU): Entra's wins.
    geo = _object(source, "geo") or _object(client, "geo")
    point = _object(geo, "location")
    location = {"city": geo.get("city_name"), "state": geo.get("region_name"),
                "countryOrRegion": geo.get("country_iso_code"),
                "geoCoordinates": {"latitude": point.get("lat"), "longitude": point.get("lon")}}
    properties.setdefault("location", location)
    properties.setdefault("autonomousSystemNumber", _object(client, "as").get("number"))
    return {
        "time": source.get("@timestamp"),
        "category": logs.get("category"),
        "resultType": logs.get("result_type"),
        "callerIpAddress": client.get("ip"),
        "correlationId": _object(source, "azure").get("correlation_id"),
        "properties": properties,
    }


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def _camel(name: str) -> str:
    if name in _RENAMED:
        return _RENAMED[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
