"""Every app setting the program reads is set by the template or has a default that is safe in
Azure, and the template sets no setting the program does not know (a typo would be silent)."""

from __future__ import annotations

from shared.config import DEFAULTS
from tests.infra.templates import keys, module, text, variable

# Replaced in Azure by the identity-based AzureWebJobsStorage__* settings.
CONNECTION_STRING_SETTING = "AzureWebJobsStorage"

# Settings the template leaves to the program's default, and why that default is right in Azure.
SAFE_DEFAULTS = {
    "GRAPH_BASE_URL": "global Microsoft Graph; only sovereign clouds differ",
    "GRAPH_LOCAL_TOKEN": "only for the local Graph emulator; must stay unset in Azure",
    "GRAPH_SIGNIN_REQUESTS": "Microsoft's published sign-in report limit, 5 requests",
    "GRAPH_SIGNIN_PERIOD_SECONDS": "... per 10 seconds, per app and tenant",
    "GRAPH_RISK_REQUESTS_PER_SECOND": "Identity Protection's published limit, 1 per second",
    "GRAPH_PAGE_SIZE": "1000, the largest page signIns serves",
    "GRAPH_RETRY_BUDGET": "retries per request; tuning, not environment",
    "GRAPH_READ_TIMEOUT_SECONDS": "330 s, past Graph's own ~300 s on a slow signIns query",
    "SIGNIN_SETTLE_MINUTES": "15, three times Microsoft's p99 sign-in latency of ~5 minutes",
    "SLICE_HOURS": "work split; tuning, not environment",
    "SCORING_BATCH_USERS": "work split; tuning, not environment",
    "STORAGE_NAME_PREFIX": "test isolation only; empty in Azure",
    "WEBSITE_AUTH_ENABLED": "set by App Service itself when site-auth.bicep turns sign-in on",
    "GRAPH_LOCAL_REMEDIATOR_TOKEN": "only for the local Graph emulator; must stay unset in Azure",
    "ADHOC_SYNC_SECONDS": "200 s, below the platform's 230 s HTTP limit",
    "REMEDIATOR_DIRECTORY_ROLES": "User Administrator, the role the post-deploy step assigns; "
                                  "set with the role (docs/deploy.md)",
    "ARCHIVE_CONNECTION_STRING": "only for a local archive in Azurite; unset in Azure",
    "ARCHIVE_CONTAINERS": "the container names Entra ID diagnostic settings write",
    "ARCHIVE_PARALLEL_BLOBS": "read concurrency; tuning, not environment",
    "ARCHIVE_DELIVERY_LAG_MINUTES": "how late diagnostic delivery may be; tuning",
    "LOG_ANALYTICS_ENDPOINT": "the global query API; only sovereign clouds differ",
    "LOG_ANALYTICS_QUERY_HOURS": "query range; tuning, not environment",
    "LOG_ANALYTICS_SERVER_TIMEOUT_SECONDS": "server timeout per query; tuning",
}

# Settings the Functions host or the platform reads, not shared/config.py.
PLATFORM_ONLY = {
    "AzureWebJobsStorage__credential",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}


def template_settings() -> set[str]:
    platform = keys(variable(module("app-settings"), "platformSettings"))
    review = keys(variable(module("main"), "reviewSettings"))
    assert not platform & review, f"set twice: {platform & review}"
    return platform | review


def test_every_setting_the_program_reads_is_set_or_safely_defaulted() -> None:
    program = set(DEFAULTS) - {CONNECTION_STRING_SETTING}
    missing = program - template_settings() - set(SAFE_DEFAULTS)
    assert not missing, (
        f"set these in infra/ or list them in SAFE_DEFAULTS with a reason: {missing}"
    )


def test_safe_default_list_is_current() -> None:
    assert set(SAFE_DEFAULTS) <= set(DEFAULTS), set(SAFE_DEFAULTS) - set(DEFAULTS)
    assert not set(SAFE_DEFAULTS) & template_settings(), "listed as defaulted but also set"
    assert all(reason.strip() for reason in SAFE_DEFAULTS.values())


def test_template_sets_only_settings_someone_reads() -> None:
    unknown = template_settings() - set(DEFAULTS) - PLATFORM_ONLY
    assert not unknown, f"no code reads {unknown}"
    assert CONNECTION_STRING_SETTING not in template_settings()


def test_issue_settings_come_from_parameters() -> None:
    settings = variable(module("main"), "reviewSettings")
    assert settings["REVIEW_SCHEDULE"] == "reviewSchedule"
    assert settings["PRIVILEGED_REVIEW_SCHEDULE"] == "privilegedReviewSchedule"
    assert settings["TENANT_TIME_ZONE"] == "tenantTimeZone"
    assert settings["BUSINESS_HOURS"] == "businessHours"
    assert settings["BUSINESS_DAYS"] == "businessDays"
    assert settings["HOLIDAYS"] == "holidays"
    assert settings["GRAPH_API_VERSION"] == "graphApiVersion"
    params = module("main")["parameters"]
    assert params["reviewSchedule"]["default"] == DEFAULTS["REVIEW_SCHEDULE"]
    assert params["privilegedReviewSchedule"]["default"] == DEFAULTS["PRIVILEGED_REVIEW_SCHEDULE"]
    assert params["graphApiVersion"]["default"] == DEFAULTS["GRAPH_API_VERSION"]


def test_remediation_caller_settings_match_the_logic_app() -> None:
    main = module("main")
    settings = variable(main, "reviewSettings")
    assert settings["AUTH_AUDIENCE"] == "apiIdentifierUri"
    assert "tenant" in text(settings["AUTH_TENANT_ID"])
    assert settings["AUTH_ISSUER"].startswith("https://sts.windows.net/")
    callers = text(settings["REMEDIATION_ALLOWED_CALLERS"])
    assert "identities" in callers and "approvalsPrincipalId" in callers
    logic = main["modules"]["logicApp"]["config"]["params"]
    assert logic["remediationAudience"] == "apiIdentifierUri"
    assert "approvalsId" in text(logic["approvalsId"])
    app = main["modules"]["appSettings"]["config"]["params"]
    assert app["reviewSettings"] == "reviewSettings"
