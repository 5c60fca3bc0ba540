"""The Bicep templates under infra/, parsed with pycep into plain data, and small readers over it.

pycep turns a template into nested dicts: literals stay literals, an identifier (a parameter,
a variable, a resource) appears as its bare name, and expressions appear as
{"function": {...}} or {"operator": {...}} trees. Quoted object keys keep their quotes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
MODULES = INFRA / "modules"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def module(name: str) -> dict[str, Any]:
    """A module template by file stem (`storage`), or `main`."""
    return parse(INFRA / "main.bicep") if name == "main" else parse(MODULES / f"{name}.bicep")


def unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def keys(obj: dict[str, Any]) -> set[str]:
    return {unquote(k) for k in obj}


def resource(template: dict[str, Any], symbol: str) -> dict[str, Any]:
    return template["resources"][symbol]


def body(res: dict[str, Any]) -> dict[str, Any]:
    """A resource's declared body, looking through a for-loop or an if-condition."""
    config = res["config"]
    wrapped = "loop_type" in config or "condition" in config
    return config["config"] if wrapped else config


def resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {
        symbol: res
        for symbol, res in template.get("resources", {}).items()
        if res["type"].lower() == type_.lower()
    }


def variable(template: dict[str, Any], name: str) -> Any:
    return template["variables"][name]["value"]


def text(value: Any) -> str:
    """Everything a value says, as one string, for searching expressions."""
    return json.dumps(value, sort_keys=True)


def accessor(value: Any) -> str | None:
    """`a.b.c` for a property-accessor tree, else None."""
    if isinstance(value, str):
        return value
    operator = value.get("operator") if isinstance(value, dict) else None
    if not operator or operator["type"] != "property_accessor":
        return None
    left = accessor(operator["operands"]["operand_1"])
    right = accessor(operator["operands"]["operand_2"])
    return f"{left}.{right}" if left and right else None


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)


SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<check>[A-Z0-9_]+)(?::(?P<reason>.*))?")


def skip_comments() -> list[tuple[Path, str, str]]:
    """(file, check id, written reason) for every inline checkov skip."""
    found = []
    for path in bicep_files():
        for line in path.read_text().splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                found.append((path, match["check"], (match["reason"] or "").strip()))
    return found
