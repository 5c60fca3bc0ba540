"""Security properties of the parsed templates: storage, evidence, the function app, outputs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.infra.templates import (
    accessor,
    bicep_files,
    body,
    grant_list,
    keys,
    module,
    parse,
    resource,
    resources_of_type,
    role_assignments,
    text,
    variable,
    walk,
)


def test_storage_account_is_hardened() -> None:
    props = body(resource(module("storage"), "storage"))["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["allowCrossTenantReplication"] is False
    assert props["defaultToOAuthAuthentication"] is True


def test_evidence_container_is_write_once() -> None:
    storage = module("storage")
    assert body(resource(storage, "blobService"))["properties"]["isVersioningEnabled"] is True
    evidence = body(resource(storage, "evidence"))
    assert evidence["name"] == "evidence"
    assert evidence["properties"]["immutableStorageWithVersioning"] == {"enabled": True}
    policy = body(resource(storage, "evidencePolicy"))
    assert policy["parent"] == "evidence" and policy["name"] == "default"
    assert policy["properties"]["immutabilityPeriodSinceCreationInDays"] == "evidenceRetentionDays"
    assert policy["properties"]["allowProtectedAppendWrites"] is False
    # Unlocked by default: the template never sets a state, and deletion protection is opt-in.
    assert "state" not in policy["properties"]
    assert storage["parameters"]["protectFromDeletion"]["default"] is False
    # Declared on every deployment until someone locks it by hand and says so.
    condition = resource(storage, "evidencePolicy")["config"]["condition"]
    assert condition == {
        "operator": {"type": "not", "operands": {"bool_value": "retentionPolicyLocked"}}
    }
    assert module("main")["parameters"]["evidencePolicyLocked"]["default"] is False


def test_evidence_retention_is_one_parameter_for_policy_and_program() -> None:
    main = module("main")
    storage_params = main["modules"]["storage"]["config"]["params"]
    assert storage_params["evidenceRetentionDays"] == "evidenceRetentionDays"
    settings = variable(main, "reviewSettings")
    assert "evidenceRetentionDays" in text(settings["EVIDENCE_RETENTION_DAYS"])


def test_no_container_is_public() -> None:
    containers = resources_of_type(
        module("storage"), "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    assert containers
    for symbol, res in containers.items():
        assert body(res)["properties"]["publicAccess"] == "None", symbol


def test_queues_tables_and_containers_the_program_uses() -> None:
    storage = module("storage")
    assert variable(storage, "queueNames") == [
        "signin-slices",
        "signin-slices-poison",
        "run-ready",
        "run-ready-poison",
        "user-scoring",
        "user-scoring-poison",
        "review-user",
        "review-user-poison",
    ]
    assert variable(storage, "tableNames") == ["runs", "verdicts", "baselines", "remediations"]
    assert variable(storage, "mutableContainerNames") == ["reports", "deploymentContainerName"]


def test_function_app_runs_on_flex_consumption_python_311() -> None:
    app = module("function-app")
    plan = body(resource(app, "plan"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = body(resource(app, "site"))
    assert site["kind"] == "functionapp,linux"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    deployment = config["deployment"]["storage"]
    assert deployment["authentication"]["type"] == "UserAssignedIdentity"


def test_function_app_is_https_only_without_ftp_or_basic_auth() -> None:
    app = module("function-app")
    props = body(resource(app, "site"))["properties"]
    assert props["httpsOnly"] is True
    # FTP is off through the publishing policy: Flex Consumption rejects siteConfig.ftpsState.
    assert "ftpsState" not in props["siteConfig"]
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    assert props["siteConfig"]["remoteDebuggingEnabled"] is False
    policies = resources_of_type(app, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body(p)["name"]: body(p)["properties"]["allow"] for p in policies.values()} == {
        "ftp": False,
        "scm": False,
    }


def test_function_app_identities_are_user_assigned() -> None:
    site = body(resource(module("function-app"), "site"))
    assert site["identity"]["type"] == "UserAssigned"
    assert keys(site["identity"]["userAssignedIdentities"]) == {"${readerId}", "${remediatorId}"}
    assert site["properties"]["keyVaultReferenceIdentity"] == "readerId"


def test_storage_settings_are_identity_based() -> None:
    settings = variable(module("app-settings"), "platformSettings")
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "readerClientId"
    for service in ("blob", "queue", "table"):
        uri = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert accessor(uri) == f"storage.properties.primaryEndpoints.{service}"
    assert "AzureWebJobsStorage" not in settings, "no connection string setting"
    assert settings["GRAPH_CREDENTIAL"] == "managed-identity"


def test_app_settings_hold_no_keys_or_connection_strings() -> None:
    app = module("app-settings")
    every_setting = text(variable(app, "platformSettings")) + text(
        variable(module("main"), "reviewSettings")
    )
    for marker in (
        "AccountKey",
        "SharedAccess",
        "DefaultEndpointsProtocol",
        "listKeys",
        "listCallbackUrl",
        "listSecrets",
        "primaryKey",
        "InstrumentationKey=",
    ):
        assert marker.lower() not in every_setting.lower(), marker
    webhook = variable(app, "platformSettings")["APPROVAL_WEBHOOK_URL"]
    assert webhook.startswith("@Microsoft.KeyVault(SecretUri="), (
        "the signed URL is a Key Vault reference"
    )
    # The site's settings are exactly these two objects.
    settings = body(resource(app, "appSettings"))["properties"]
    assert "platformSettings" in text(settings) and "reviewSettings" in text(settings)


def test_monitoring_accepts_only_entra_authenticated_telemetry() -> None:
    monitoring = module("monitoring")
    assert body(resource(monitoring, "insights"))["properties"]["DisableLocalAuth"] is True
    assert (
        body(resource(monitoring, "workspace"))["properties"]["features"]["disableLocalAuth"]
        is True
    )
    settings = variable(module("app-settings"), "platformSettings")
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].endswith(";Authorization=AAD")


def test_key_vault_is_rbac_only_and_recoverable() -> None:
    props = body(resource(module("vault"), "vault"))["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True


SECRET_NAME = re.compile(r"key|secret|password|connection|sas|callback|credential", re.IGNORECASE)
SECRET_VALUE = (
    "listKeys",
    "listCallbackUrl",
    "listSecrets",
    "listConnectionStrings",
    "ConnectionString",
    "getSecret",
)


def test_no_output_carries_a_secret() -> None:
    for path in bicep_files():
        for name, output in parse(path).get("outputs", {}).items():
            where = f"{path.name}: output {name}"
            assert not SECRET_NAME.search(re.sub("key_?vault", "", name, flags=re.I)), where
            assert not any(d["type"] == "secure" for d in output.get("decorators", [])), where
            for marker in SECRET_VALUE:
                assert marker.lower() not in text(output).lower(), f"{where} uses {marker}"


def test_no_function_key_and_the_trigger_url_stays_inside_the_logic_app_module() -> None:
    for path in bicep_files():
        source = path.read_text()
        assert "listKeys" not in source, path.name
        if path.name != "logic-app.bicep":
            assert "listCallbackUrl()" not in source, path.name
    logic = module("logic-app")
    secret = body(resource(logic, "webhookSecret"))
    assert "listCallbackUrl" in text(secret["properties"]["value"])
    call = variable(logic, "callRemediations")
    assert call["runtimeConfiguration"]["secureData"]["properties"] == ["inputs"]


def test_a_privileged_review_is_mailed_for_sign_off_from_the_apps_own_fields() -> None:
    """The workflow mails `privilegedReview.subject` / `mailHtml` (shared/pipeline/approval_mail
    .review_request) when the trigger body carries one, whatever the verdicts."""
    from shared.model import PrivilegedReview, Window
    from shared.pipeline.approval_mail import review_request

    logic = module("logic-app")
    ask = variable(logic, "askForSignOff")
    assert ask["type"] == "ApiConnection" and ask["inputs"]["path"] == "/v2/Mail"
    assert "privilegedReview" in text(variable(logic, "review"))
    mail = ask["inputs"]["body"]
    assert "'subject'" in text(mail["Subject"]).replace("\\", "")
    assert "'mailHtml'" in text(mail["Body"]).replace("\\", "")
    moment = Window(start=datetime(2025, 1, 1, tzinfo=UTC), end=datetime(2025, 3, 31, tzinfo=UTC))
    sent = review_request(PrivilegedReview(period=moment, read=moment, read_detail="",
                                           accounts=[]), "r1", None, None)
    assert {"subject", "mailHtml"} <= set(sent)


def test_every_role_assignment_is_generated_and_named_by_scope_principal_role() -> None:
    found = 0
    for path, template, symbol, res in role_assignments():
        where = f"{path.name}: {symbol}"
        loop = res["config"].get("loop_type")
        assert loop and loop["type"] == "array", f"{where} must be generated from a list"
        item, grants = loop["detail"]["item_name"], loop["detail"]["array_name"]
        assert grant_list(variable(template, grants)) is not None, where
        declared = body(res)
        guid = declared["name"]["function"]
        assert guid["type"] == "guid", where
        args = [accessor(v) for v in guid["parameters"].values() if v is not None]
        assert args == [f"{declared['scope']}.id", f"{item}.principalId", f"{item}.roleId"], (
            where
        )
        found += 1
    assert found >= 3


def test_azure_roles_are_least_privilege() -> None:
    roles = module("roles")
    ids = variable(roles, "roles")
    granted = {
        grants: {
            (g["principalId"],
             str(accessor(g["roleId"])).removeprefix("roles.").removesuffix(".id"))
            for g in variable(roles, grants)
        }
        for grants in ("storageGrants", "vaultGrants", "insightsGrants")
    }
    assert granted == {
        "storageGrants": {
            ("readerPrincipalId", "storageBlobDataOwner"),
            ("readerPrincipalId", "storageQueueDataContributor"),
            ("readerPrincipalId", "storageTableDataContributor"),
        },
        "vaultGrants": {("readerPrincipalId", "keyVaultSecretsUser")},
        "insightsGrants": {("readerPrincipalId", "monitoringMetricsPublisher")},
    }
    assert "builtin-roles.json" in text(ids), "ids come from the table (test_roles.py)"
    assert "remediator" not in text(roles).lower(), "the remediator holds no Azure roles"


def test_no_hardcoded_secrets_anywhere() -> None:
    for path in bicep_files():
        for value in walk(parse(path)):
            if isinstance(value, str):
                assert not re.search(r"(AccountKey|sig|code)=[A-Za-z0-9%/+]{16,}", value), path.name
