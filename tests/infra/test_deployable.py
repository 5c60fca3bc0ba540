"""What the Bicep compiler or the first `azd up` would reject, asserted over the parsed templates.

Each test names the class of mistake and its source; none needs a compiler or Azure.
"""

from __future__ import annotations

import fnmatch
import re
from urllib.parse import unquote

from tests.infra.templates import (
    INFRA,
    accessor,
    bicep_files,
    body,
    keys,
    loops,
    module,
    module_call,
    parse,
    resource,
    resources_of_type,
    runtime_references,
    text,
    variable,
)

REPO = INFRA.parent
DEPLOY_NOTES = REPO / "docs" / "deploy.md"


# --- BCP178: loops over what is known when the deployment starts -----------------------------


def test_no_loop_collection_depends_on_runtime_values() -> None:
    """Bicep's BCP178: a `for` loop's collection must be computable at the start of the
    deployment (Azure/bicep, DiagnosticBuilder RuntimeValueNotAllowedInForExpression)."""
    checked = 0
    for path in bicep_files():
        template = parse(path)
        for item, collection in loops(template):
            runtime = runtime_references(template, collection)
            assert not runtime, f"{path.name}: loop over {item} reads {runtime}"
            checked += 1
    assert checked >= 5


def test_app_settings_are_one_appsettings_resource_written_after_what_they_reference() -> None:
    configs = [
        (path.name, symbol, body(res))
        for path in bicep_files()
        for symbol, res in resources_of_type(parse(path), "Microsoft.Web/sites/config").items()
        if body(res)["name"] == "appsettings"
    ]
    assert [(name, symbol) for name, symbol, _ in configs] == [
        ("app-settings.bicep", "appSettings")
    ]
    settings = configs[0][2]
    assert settings["parent"] == "site"
    assert text(settings["properties"]) == text(
        {"function": {"type": "union",
                      "parameters": {"arg_1": "platformSettings", "arg_2": "reviewSettings"}}}
    )
    for path in bicep_files():
        for symbol, res in resources_of_type(parse(path), "Microsoft.Web/sites").items():
            site_config = body(res).get("properties", {}).get("siteConfig", {})
            assert "appSettings" not in site_config, f"{path.name}: {symbol} sets settings inline"


# --- Flex Consumption ------------------------------------------------------------------------

# Site properties a Flex Consumption site rejects ("The following site configuration property
# (...) for Flex Consumption sites is invalid"), with where that was reported.
FLEX_REJECTED_SITE_CONFIG = {
    "ftpsState": "microsoft/azure-pipelines-tasks#21032",
    "use32BitWorkerProcess": "microsoft/azure-pipelines-tasks#21032",
    "netFrameworkVersion": "microsoft/azure-pipelines-tasks#21032",
    "functionsRuntimeScaleMonitoringEnabled": "microsoft/azure-pipelines-tasks#21032",
    "linuxFxVersion": "Azure/terraform-azurerm-avm-res-web-site#283",
}

# App settings Flex Consumption removed or replaced by functionAppConfig, from
# https://learn.microsoft.com/azure/azure-functions/functions-app-settings
# (section "Flex Consumption plan deprecations").
FLEX_REJECTED_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}


def flex_sites() -> list[tuple[str, str, dict[str, object]]]:
    found = []
    for path in bicep_files():
        template = parse(path)
        plans = {symbol for symbol, res in resources_of_type(
            template, "Microsoft.Web/serverfarms").items()
            if body(res)["sku"].get("tier") == "FlexConsumption"}
        for symbol, res in resources_of_type(template, "Microsoft.Web/sites").items():
            declared = body(res)
            farm = accessor(declared.get("properties", {}).get("serverFarmId", ""))
            if farm and farm.split(".")[0] in plans:
                found.append((path.name, symbol, declared))
    return found


def test_flex_site_sets_no_property_flex_rejects() -> None:
    sites = flex_sites()
    assert [(name, symbol) for name, symbol, _ in sites] == [("function-app.bicep", "site")]
    for name, symbol, declared in sites:
        site_config = declared["properties"].get("siteConfig", {})  # type: ignore[union-attr]
        rejected = keys(site_config) & set(FLEX_REJECTED_SITE_CONFIG)
        assert not rejected, f"{name}: {symbol} sets {rejected}"
    settings = keys(variable(module("app-settings"), "platformSettings")) | keys(
        variable(module("main"), "reviewSettings"))
    assert not settings & FLEX_REJECTED_SETTINGS


def test_publishing_credential_policies_carry_a_location() -> None:
    policies = [
        (path.name, symbol, body(res))
        for path in bicep_files()
        for symbol, res in resources_of_type(
            parse(path), "Microsoft.Web/sites/basicPublishingCredentialsPolicies").items()
    ]
    assert len(policies) == 2
    for name, symbol, declared in policies:
        assert declared.get("location") == "location", f"{name}: {symbol} has no location"


# --- azd ---------------------------------------------------------------------------------------


def azure_yaml() -> str:
    return (REPO / "azure.yaml").read_text()


def test_azd_version_is_pinned_for_the_graph_extension() -> None:
    """The Graph Bicep extension needs Bicep >= 0.36.1; azd provisions with the Bicep it pins,
    which is new enough from azd 1.17 on."""
    match = re.search(r"^requiredVersions:\n  azd: \">= (\d+)\.(\d+)\.(\d+)\"$", azure_yaml(),
                      re.MULTILINE)
    assert match, "azure.yaml needs requiredVersions.azd"
    assert tuple(int(part) for part in match.groups()) >= (1, 17, 0)
    assert re.search(r"`azd`\) 1\.17 or later", DEPLOY_NOTES.read_text())


def tagged_for_azd() -> list[tuple[str, str, str]]:
    """(file, symbol, type) of every resource that ends up with an azd-service-name tag."""
    tagged_params: dict[str, set[str]] = {}
    for call in module("main")["modules"].values():
        stem = call["detail"]["path"].removeprefix("modules/").removesuffix(".bicep")
        tagged_params[stem] = {name for name, value in call["config"]["params"].items()
                               if "azd-service-name" in text(value)}
    found = []
    for path in bicep_files():
        template = parse(path)
        params = tagged_params.get(path.stem, set())
        for symbol, res in template.get("resources", {}).items():
            tags = body(res).get("tags")
            if tags is None:
                continue
            tag_text = text(tags)
            if "azd-service-name" in tag_text or any(f'"{p}"' in tag_text for p in params):
                found.append((path.name, symbol, res["type"]))
    return found


def test_only_the_site_is_tagged_for_azd() -> None:
    """Two resources with the same azd-service-name tag fail `azd deploy` before azd 1.24."""
    assert tagged_for_azd() == [("function-app.bicep", "site", "Microsoft.Web/sites")]
    service = re.search(r"^services:\n  (\w+):\n", azure_yaml(), re.MULTILINE)
    assert service and module_call("function-app")["config"]["params"]["serviceName"] == (
        service[1])


def test_nothing_reads_function_keys_while_provisioning() -> None:
    """listKeys on a Flex app's host before any code is deployed fails intermittently; the
    remediation route needs no key (its Entra token is checked in process)."""
    for path in bicep_files():
        assert "listkeys" not in path.read_text().lower(), path.name
    notes = DEPLOY_NOTES.read_text()
    assert "no function key" in notes.lower()


# --- ordering ----------------------------------------------------------------------------------


def test_every_key_vault_reference_is_created_after_its_secret() -> None:
    """A Key Vault reference written before its secret exists stays unresolved until the next
    configuration change (about a day). Each reference's secret URI must come from the output of
    the module that writes that secret, which makes the settings wait for it."""
    references = 0
    for path in bicep_files():
        template = parse(path)
        for name, value in template.get("variables", {}).items():
            for part in (v for v in _strings(value["value"])):
                for param in re.findall(r"@Microsoft\.KeyVault\(SecretUri=\$\{(\w+)\}\)", part):
                    references += 1
                    where = f"{path.name}: {name} uses {param}"
                    assert param in template["parameters"], where
                    passed = module_call(path.stem)["config"]["params"][param]
                    source = accessor(passed) if isinstance(passed, dict) else None
                    assert source and ".outputs." in source, (
                        f"{where}, passed {passed!r}, not a module output")
                    writer, output = source.split(".outputs.")
                    writer_path = module("main")["modules"][writer]["detail"]["path"]
                    writer_template = parse(INFRA / writer_path)
                    secret = accessor(writer_template["outputs"][output]["value"])
                    assert secret and secret.endswith(".properties.secretUri"), where
                    symbol = secret.split(".")[0]
                    assert resource(writer_template, symbol)["type"] == (
                        "Microsoft.KeyVault/vaults/secrets"), where
    assert references >= 1


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for child in value.values() for s in _strings(child)]
    if isinstance(value, list):
        return [s for child in value for s in _strings(child)]
    return []


def test_graph_assignments_hold_back_only_what_needs_them() -> None:
    """Graph app-role assignments to a just-created managed identity can fail on the first run
    (directory replication); a second run succeeds. Only the sign-in configuration, which needs
    the registration's client id, waits for them; the deploy notes say to run again."""
    waiting = [
        symbol for symbol, call in module("main")["modules"].items()
        if "entra" in call["config"].get("dependsOn", [])
        or any(str(accessor(value)).startswith("entra.outputs.")
               for value in call["config"]["params"].values())
    ]
    assert waiting == ["siteAuth"]
    notes = DEPLOY_NOTES.read_text()
    assert "azd provision" in notes and "replication" in notes


def normalised(path: str) -> str:
    """A request path as a careful server compares it: percent-decoded until it no longer
    changes (so %252e counts as '.'), backslashes and repeated slashes as one '/', dot segments
    removed (RFC 3986, 5.2.4), and lower case (App Service matches paths case-insensitively)."""
    seen = None
    while seen != path:
        seen, path = path, unquote(path)
    segments: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return ("/" + "/".join(segments)).lower()


def excluded_by(patterns: list[str], path: str) -> bool:
    """Whether excludedPaths leaves `path` unauthenticated: any spelling that normalises to an
    excluded path is excluded, and none that normalises to another path."""
    clean = normalised(path)
    return any(fnmatch.fnmatchcase(clean, pattern.lower()) for pattern in patterns)


APPROVAL_SPELLINGS = [
    "/api/approvals/reports/r1",
    "/api/reviews/../approvals/reports/r1",
    "/api/reviews/r1/../../approvals/reports/r1",
    "/api/reviews/./../approvals/reports/r1",
    "/api/reviews/%2e%2e/approvals/reports/r1",
    "/api/reviews/%2E%2E/approvals/reports/r1",
    "/api/reviews/..%2fapprovals/reports/r1",
    "/api/reviews/%252e%252e/approvals/reports/r1",
    "/api/reviews/..\\approvals/reports/r1",
    "/api//approvals/reports/r1",
    "/API/Approvals/Reports/r1",
    "/api/reviews/../../api/approvals/reports/r1",
    "/api/%72eviews/../approvals/reports/r1",
]


def test_exclusion_matcher_normalises_like_a_careful_platform() -> None:
    """The matcher once counted /api/reviews/../approvals/... as excluded (plain fnmatch)."""
    patterns = ["/api/reviews", "/api/reviews/*"]
    assert fnmatch.fnmatchcase("/api/reviews/../approvals/reports/r1", "/api/reviews/*")
    assert not excluded_by(patterns, "/api/reviews/../approvals/reports/r1")
    assert excluded_by(patterns, "/API/Reviews/r1")
    assert excluded_by(patterns, "/api/reviews/%72%31")
    assert normalised("/a/b/../../../c") == "/c"


def test_report_route_is_behind_platform_sign_in_and_api_routes_are_not() -> None:
    """Approvers open /api/approvals/reports/{runId} with their own Entra sign-in; the routes
    that carry their own authentication (function key, Entra token) stay reachable to callers
    that cannot sign in interactively."""
    auth = body(resource(module("site-auth"), "auth"))
    assert auth["name"] == "authsettingsV2"
    validation = auth["properties"]["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "RedirectToLoginPage"
    excluded = variable(module("site-auth"), "ownAuthenticationPaths")
    assert validation["excludedPaths"] == "ownAuthenticationPaths"

    def is_excluded(path: str) -> bool:
        return excluded_by(excluded, path)

    assert not is_excluded("/api/approvals/reports/0123abcd")
    for path in ("/api/health", "/api/openapi.json", "/api/swagger.json", "/api/reviews",
                 "/api/reviews/r1",
                 "/api/reviews/r1/report", "/api/reviews/r1/users/u1", "/api/remediations",
                 "/admin/functions/review_schedule", "/api/reviews/r1/../r2"):
        assert is_excluded(path), path
    # Other spellings of the approvers' route: how App Service matches excludedPaths against
    # them is not documented; once normalised none is excluded (and the route checks the
    # signed-in approver itself, tests/integration/test_api_approvers.py).
    for path in APPROVAL_SPELLINGS:
        assert not is_excluded(path), path
    aad = auth["properties"]["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"]["clientId"] == "clientId"
    assert "v2.0" in text(aad["registration"]["openIdIssuer"])
    assert auth["properties"]["login"]["tokenStore"]["enabled"] is False
    assert module_call("site-auth")["config"]["params"]["clientId"] == {
        "operator": {"type": "property_accessor", "operands": {
            "operand_1": "entra", "operand_2": {"operator": {"type": "property_accessor",
                                                             "operands": {
                "operand_1": "outputs", "operand_2": "reportSignInClientId"}}}}}}


def test_only_the_approvers_group_may_sign_in_to_read_reports() -> None:
    entra = module("entra")
    app = body(resource(entra, "reportSignIn"))
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["web"]["implicitGrantSettings"] == {"enableIdTokenIssuance": True}
    assert app["web"]["redirectUris"] == ["https://${reportHostName}/.auth/login/aad/callback"]
    assert "passwordCredentials" not in app, "ID-token sign-in needs no client secret"
    assert body(resource(entra, "reportSignInPrincipal"))["appRoleAssignmentRequired"] is True
    grant = body(resource(entra, "approversMayReadReports"))
    assert grant["principalId"] == "approverGroupId"
    assert grant["appRoleId"] == "00000000-0000-0000-0000-000000000000"
    assert module_call("entra")["config"]["params"]["approverGroupId"] == "approverGroupId"



def test_the_approvers_group_is_in_the_sign_in_token_and_checked_twice() -> None:
    """The registration emits the approvers' group (groups assigned to it only, so no overage);
    the platform's built-in policy admits only that group, and the app checks it again from
    X-MS-CLIENT-PRINCIPAL (shared/api/approvers.py) with the group id from its settings."""
    app = body(resource(module("entra"), "reportSignIn"))
    assert app["groupMembershipClaims"] == "ApplicationGroup"
    assert [c["name"] for c in app["optionalClaims"]["idToken"]] == ["groups"]
    aad = body(resource(module("site-auth"), "auth"))["properties"]["identityProviders"][
        "azureActiveDirectory"]
    policy = aad["validation"]["defaultAuthorizationPolicy"]
    assert policy["allowedPrincipals"]["groups"] == ["approverGroupId"]
    assert module_call("site-auth")["config"]["params"]["approverGroupId"] == "approverGroupId"
    assert variable(module("main"), "reviewSettings")["APPROVER_GROUP_ID"] == "approverGroupId"
