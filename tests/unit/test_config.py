from datetime import date, time

import pytest

from shared import config
from shared.errors import ConfigError


def test_defaults_are_valid() -> None:
    settings = config.load({})
    assert settings.graph_api_version == "v1.0"
    assert settings.business_days == (0, 1, 2, 3, 4)
    assert settings.business_start == time(8) and settings.business_end == time(18)
    assert settings.review_schedule == "0 0 6 * * 1-5"


def test_reads_values() -> None:
    settings = config.load({
        "GRAPH_API_VERSION": "beta", "HOLIDAYS": "2026-12-25, 2026-12-24",
        "TENANT_TIME_ZONE": "Europe/Berlin", "REMEDIATION_ALLOWED_CALLERS": "AbC,def",
    })
    assert settings.graph_api_version == "beta"
    assert settings.holidays == (date(2026, 12, 24), date(2026, 12, 25))
    assert settings.zone.key == "Europe/Berlin"
    assert settings.remediation_allowed_callers == {"abc", "def"}


@pytest.mark.parametrize(("name", "value", "words"), [
    ("GRAPH_API_VERSION", "v2", "GRAPH_API_VERSION"),
    ("TENANT_TIME_ZONE", "Mars/Olympus", "time zone"),
    ("BUSINESS_HOURS", "18:00-08:00", "start before"),
    ("BUSINESS_DAYS", "Funday", "unknown day"),
    ("GRAPH_PAGE_SIZE", "5000", "between"),
    ("HOLIDAYS", "25/12/2026", "ISO dates"),
    ("GRAPH_CREDENTIAL", "local", "GRAPH_LOCAL_TOKEN"),
])
def test_rejects_bad_values(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        config.load({name: value})


@pytest.mark.parametrize(("env", "words"), [
    ({"SIGNIN_SOURCE": "splunk"}, "SIGNIN_SOURCE must be one of graph, archive, log-analytics"),
    ({"SIGNIN_SOURCE": "archive"}, "ARCHIVE_ACCOUNT_URL"),
    ({"SIGNIN_SOURCE": "archive", "ARCHIVE_ACCOUNT_URL": "https://a.blob.core.windows.net"},
     "ARCHIVE_TENANT_ID"),
    ({"SIGNIN_SOURCE": "log-analytics"}, "LOG_ANALYTICS_WORKSPACE_ID"),
    ({"ARCHIVE_CONTAINERS": " , "}, "ARCHIVE_CONTAINERS"),
    ({"LOG_ANALYTICS_QUERY_HOURS": "0"}, "between"),
])
def test_sign_in_source_needs_what_it_reads(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        config.load(env)


def test_sign_in_source_settings() -> None:
    settings = config.load({"SIGNIN_SOURCE": "archive", "ARCHIVE_TENANT_ID": "t",
                            "ARCHIVE_ACCOUNT_URL": "https://a.blob.core.windows.net/"})
    assert settings.signin_source == "archive"
    assert settings.archive_account_url == "https://a.blob.core.windows.net"
    assert settings.archive_containers == ("insights-logs-signinlogs",
                                           "insights-logs-noninteractiveusersigninlogs")
    assert config.load({}).signin_source == "graph"
