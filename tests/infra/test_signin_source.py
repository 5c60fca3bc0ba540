"""The template refuses a sign-in source without its resource at deployment time: with
`signinSource` archive but no archive account (or log-analytics but no workspace) it would
deploy cleanly and every trigger would then fail. main.bicep takes SIGNIN_SOURCE from
modules/signin-source.bicep, which computes it through Bicep's fail() (learn.microsoft.com/
azure/azure-resource-manager/bicep/bicep-functions-flow-control); this evaluates that
expression, as parsed from the template, for each combination of parameters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.templates import module, variable

MAIN = module("signin-source")


class Refused(Exception):
    """fail() was reached: the deployment stops with this message."""


def evaluate(node: Any, params: dict[str, str]) -> Any:
    """The parsed Bicep expression's value (the operators the check uses)."""
    if isinstance(node, str):
        if node in params:
            return params[node]
        try:
            return evaluate(variable(MAIN, node), params)
        except KeyError:
            return node  # a string literal
    if "operator" in node:
        kind, operands = node["operator"]["type"], node["operator"]["operands"]
        if kind == "conditional":
            chosen = "true_value" if evaluate(operands["condition"], params) else "false_value"
            return evaluate(operands[chosen], params)
        values = [evaluate(v, params) for v in operands.values()]
        if kind == "equals":
            return values[0] == values[1]
        if kind == "and":
            return all(values)
        raise AssertionError(f"operator {kind} not modelled")
    function = node["function"]
    args = [evaluate(v, params) for v in function["parameters"].values()]
    if function["type"] == "empty":
        return not args[0]
    if function["type"] == "fail":
        raise Refused(args[0])
    raise AssertionError(f"function {function['type']} not modelled")


ACCOUNT = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/logs/providers/"
           "Microsoft.Storage/storageAccounts/signinarchive")
WORKSPACE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/logs/"
             "providers/Microsoft.OperationalInsights/workspaces/sentinel")


def source(signin_source: str, account: str = "", workspace: str = "") -> Any:
    return evaluate(variable(MAIN, "checkedSigninSource"), {
        "signinSource": signin_source, "archiveStorageAccountId": account,
        "logAnalyticsWorkspaceResourceId": workspace})


def test_the_setting_is_the_checked_value() -> None:
    settings = variable(module("main"), "reviewSettings")
    [value] = [v for k, v in settings.items() if k.strip("'") == "SIGNIN_SOURCE"]
    assert "signinSourceCheck" in str(value) and "signinSource" in str(value)
    assert MAIN["outputs"]["signinSource"]["value"] == "checkedSigninSource"
    passed = module("main")["modules"]["signinSourceCheck"]["config"]["params"]
    assert passed == {"signinSource": "signinSource",
                      "archiveStorageAccountId": "archiveStorageAccountId",
                      "logAnalyticsWorkspaceResourceId": "logAnalyticsWorkspaceResourceId"}


@pytest.mark.parametrize(("signin_source", "account", "workspace"), [
    ("graph", "", ""), ("graph", ACCOUNT, WORKSPACE), ("archive", ACCOUNT, ""),
    ("log-analytics", "", WORKSPACE), ("archive", ACCOUNT, WORKSPACE),
])
def test_a_source_with_its_resource_deploys(signin_source: str, account: str,
                                            workspace: str) -> None:
    assert source(signin_source, account, workspace) == signin_source


def test_archive_without_its_account_is_refused() -> None:
    with pytest.raises(Refused, match="signinSource archive needs archiveStorageAccountId"):
        source("archive", "", WORKSPACE)


def test_log_analytics_without_its_workspace_is_refused() -> None:
    with pytest.raises(Refused, match="signinSource log-analytics needs "
                                      "logAnalyticsWorkspaceResourceId"):
        source("log-analytics", ACCOUNT, "")
