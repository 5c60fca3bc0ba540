"""Every Azure built-in role the templates assign is in one table (infra/builtin-roles.json), and
every entry there matches Microsoft's published id for its name.

A wrong role id is not caught by any parser: the assignment fails at deployment, and what
depends on it (the function app) is never created.
"""

from __future__ import annotations

import json
import re

from tests.infra.templates import (
    INFRA,
    accessor,
    bicep_files,
    body,
    grant_list,
    role_assignments,
    variable,
)

# Microsoft's published built-in roles, name -> id, as listed on
# https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles
# (the Storage, Security and Monitor sections). Add a role here only after reading its id there.
PUBLISHED = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Log Analytics Reader": "73c42c96-874c-492b-b04d-ab87d138a893",
}

# GUIDs in the templates that are not Azure role ids, and what they are.
NOT_ROLE_IDS = {
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph's application id",
    "00000000-0000-0000-0000-000000000000": "the default-access app role of an app registration",
}

GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)


def table() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = json.loads((INFRA / "builtin-roles.json").read_text())
    return found


def test_every_role_in_the_table_has_its_published_id() -> None:
    for key, role in table().items():
        assert role["name"] in PUBLISHED, f"{key}: {role['name']} is not in the checked list"
        assert role["id"] == PUBLISHED[role["name"]], f"{role['name']}: wrong id {role['id']}"
    ids = [role["id"] for role in table().values()]
    assert len(ids) == len(set(ids)), "a role is in the table twice"


def test_every_guid_in_the_templates_is_a_published_role_or_explained() -> None:
    published = set(PUBLISHED.values())
    for path in [*bicep_files(), INFRA / "builtin-roles.json"]:
        for guid in GUID.findall(path.read_text()):
            assert guid.lower() in published or guid.lower() in NOT_ROLE_IDS, (
                f"{path.name}: {guid} is neither a published built-in role id nor explained"
            )


def test_every_role_assignment_takes_its_role_from_the_table() -> None:
    found = 0
    for path, template, symbol, res in role_assignments():
        loop = res["config"]["loop_type"]["detail"]
        item, grants = loop["item_name"], loop["array_name"]
        definition = body(res)["properties"]["roleDefinitionId"]["function"]["parameters"]
        assert accessor(definition["resource_name_1"]) == f"{item}.roleId", path.name
        assert variable(template, "roles") == {"function": {
            "type": "load_json_content",
            "parameters": {"file_path": "../builtin-roles.json", "json_path": None,
                           "encoding": None}}}, f"{path.name}: roles come from the table"
        for grant in grant_list(variable(template, grants)):
            role = str(accessor(grant["roleId"]))
            assert re.fullmatch(r"roles\.\w+\.id", role), f"{path.name}: {symbol} uses {role}"
            assert role.split(".")[1] in table(), f"{path.name}: {role} is not in the table"
            found += 1
    assert found >= 5
