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


# Properties of a resource symbol that Bicep knows when the deployment starts (BCP178 allows a
# `for` loop's collection to use these); anything else on a resource, and every module output,
# is a runtime value.
START_PROPERTIES = {"id", "name", "type", "apiVersion"}
RUNTIME_FUNCTION = re.compile(r"^(list\w*|reference)$", re.IGNORECASE)


def _accessor_chain(value: Any) -> list[str] | None:
    is_accessor = isinstance(value, dict) and "operator" in value
    chain = accessor(value) if is_accessor else None
    return chain.split(".") if chain else None


def runtime_references(template: dict[str, Any], value: Any) -> list[str]:
    """What in `value` is known only while deploying: runtime properties of resources (declared or
    `existing`), module outputs, list*() and reference(), and variables built from them."""
    resources = set(template.get("resources", {}))
    modules = set(template.get("modules", {}))
    variables = template.get("variables", {})
    found: list[str] = []

    def visit(node: Any, seen: frozenset[str]) -> None:
        for part in walk(node):
            if isinstance(part, str) and part in variables and part not in seen:
                visit(variables[part]["value"], seen | {part})
            chain = _accessor_chain(part)
            if chain and len(chain) > 1:
                if chain[0] in resources and chain[1] not in START_PROPERTIES:
                    found.append(".".join(chain))
                if chain[0] in modules and chain[1] == "outputs":
                    found.append(".".join(chain))
            function = part.get("function") if isinstance(part, dict) else None
            if function and RUNTIME_FUNCTION.match(str(function.get("type", ""))):
                found.append(f"{function['type']}()")

    visit(value, frozenset())
    return found


def loops(template: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(item name, collection) of every `for` expression in a template."""
    for part in walk(template):
        if isinstance(part, dict) and isinstance(part.get("loop_type"), dict):
            detail = part["loop_type"]["detail"]
            yield str(detail.get("item_name")), detail.get("array_name")


def module_call(stem: str) -> dict[str, Any]:
    """main.bicep's `module` declaration of modules/<stem>.bicep."""
    calls = [m for m in module("main")["modules"].values()
             if m["detail"]["path"] == f"modules/{stem}.bicep"]
    assert len(calls) == 1, f"main.bicep deploys modules/{stem}.bicep {len(calls)} times"
    return calls[0]


def role_assignments() -> Iterator[tuple[Path, dict[str, Any], str, dict[str, Any]]]:
    """(file, its template, symbol, resource) of every Azure role assignment."""
    for path in bicep_files():
        template = parse(path)
        for symbol, res in resources_of_type(
            template, "Microsoft.Authorization/roleAssignments"
        ).items():
            yield path, template, symbol, res


def grant_list(value: Any) -> list[Any]:
    """A grants variable: a literal list, or `cond ? [] : [...]` (a grant made only when its
    target is given) read as the list it grants when it does."""
    if isinstance(value, list):
        return value
    operands = value.get("operator", {}).get("operands", {}) if isinstance(value, dict) else {}
    branches = [operands.get("true_value"), operands.get("false_value")]
    if not all(isinstance(b, list) for b in branches):
        raise AssertionError(f"not a list of grants: {value!r}"[:200])
    return [grant for branch in branches for grant in branch]
