"""The directory audit activities that matter after a takeover, by kind.

Names are Microsoft Entra's activity display names (the audit log's "categories and
activities" reference, https://learn.microsoft.com/en-us/entra/identity/monitoring-health/
reference-audit-activities, and the authentication methods activity page,
https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-methods-
activity): security info is logged by the "Authentication Methods" service as "User registered
security info", "Admin registered security info", "User deleted security info" and kin; consent
as "Consent to application" (ApplicationManagement); grants as "Add delegated permission grant"
and "Add app role assignment grant to user"; devices as "Register device" and "Add registered
owner to device"; roles as "Add member to role" and PIM's "Add member to role completed (PIM
activation)". Matching is on the lower-cased name, so a casing change does not lose a row.

Attackers who got in register their own authenticator within minutes (AiTM kits do it
automatically), consent a mail-reading app or register a device: CIPP's alerts poll for "User
registered security info"; Microsoft Sentinel ships "Suspicious sign-in followed by MFA
modification".
"""

from __future__ import annotations

from typing import Literal

from shared.persistence.records import AuditEvent

Kind = Literal["method_added", "method_removed", "password", "consent", "grant", "device",
               "role"]

# activity display name (lower case) -> kind
ACTIVITIES: dict[str, Kind] = {
    "user registered security info": "method_added",
    "admin registered security info": "method_added",
    "user registered all required security info": "method_added",
    "user changed default security info": "method_added",
    "admin updated security info": "method_added",
    "user deleted security info": "method_removed",
    "admin deleted security info": "method_removed",
    "reset password (self-service)": "password",
    "change password (self-service)": "password",
    "change user password": "password",
    "reset user password": "password",
    "consent to application": "consent",
    "add delegated permission grant": "grant",
    "add app role assignment grant to user": "grant",
    "add app role assignment to service principal": "grant",
    "register device": "device",
    "add registered owner to device": "device",
    "add registered users to device": "device",
    "add member to role": "role",
    "add member to role completed (pim activation)": "role",
    "add eligible member to role": "role",
}

# Security-info activity: a user with none of it in a complete audit log since the window's
# start registered, changed and deleted no method since (shared/pipeline/followed.py).
SECURITY_INFO: frozenset[Kind] = frozenset({"method_added", "method_removed"})

# What the reasons call each kind.
DESCRIBED: dict[Kind, str] = {
    "method_added": "security info was registered",
    "method_removed": "security info was deleted",
    "password": "the password was changed or reset",
    "consent": "consent was given to an application",
    "grant": "a permission grant was added",
    "device": "a device was registered",
    "role": "a directory role was added",
}

# The OData filter the run reads directoryAudits with: one read per run for the activities above
# (activityDisplayName supports eq; directoryaudit-list).
FILTER_ACTIVITIES: tuple[str, ...] = (
    "User registered security info", "Admin registered security info",
    "User changed default security info", "User deleted security info",
    "Admin deleted security info", "Reset password (self-service)",
    "Change password (self-service)", "Change user password", "Reset user password",
    "Consent to application", "Add delegated permission grant",
    "Add app role assignment grant to user", "Register device", "Add registered owner to device",
    "Add member to role", "Add member to role completed (PIM activation)",
)


def kind_of(event: AuditEvent) -> Kind | None:
    """The kind of a directory audit row, or None for an activity the review does not weigh."""
    return ACTIVITIES.get(event.activity_display_name.strip().lower())


def method_named(event: AuditEvent) -> str | None:
    """The method a security-info row names, where its details give it ("Microsoft
    Authenticator App", "Mobile phone"): additionalDetails' "Method", else a modified
    property's new value."""
    found = event.detail("Method") or event.detail("AuthenticationMethod")
    if found:
        return found
    for target in event.target_resources or ():
        for prop in target.modified_properties or ():
            name = (prop.display_name or "").lower()
            if "method" in name and prop.new_value and prop.new_value not in ("[]", '""'):
                return prop.new_value.strip('"[]')
    return None
