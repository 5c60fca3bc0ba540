"""Graph's directoryAudit, authenticationMethod and messageRule, as the review reads them.

Field names follow Microsoft's resource pages (camelCase), so a page of
`/auditLogs/directoryAudits`, `/users/{id}/authentication/methods` or
`/users/{id}/mailFolders/inbox/messageRules` decodes with one msgspec call:
- directoryAudit: https://learn.microsoft.com/en-us/graph/api/resources/directoryaudit
  (initiatedBy.user.ipAddress is filled for most user-initiated activities; targetResources
  carry modifiedProperties whose values depend on the activity);
- authenticationMethod and its kinds:
  https://learn.microsoft.com/en-us/graph/api/resources/authenticationmethod (createdDateTime is
  given for microsoftAuthenticator, fido2, windowsHelloForBusiness, softwareOath,
  temporaryAccessPass and platformCredential methods; phone and email methods have none);
- messageRule: https://learn.microsoft.com/en-us/graph/api/resources/messagerule (no creation
  time; hidden rules are not listed).
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class AuditUser(msgspec.Struct, rename="camel", frozen=True, gc=False):
    id: str | None = None
    user_principal_name: str | None = None
    display_name: str | None = None
    ip_address: str | None = None


class AuditApp(msgspec.Struct, rename="camel", frozen=True, gc=False):
    app_id: str | None = None
    display_name: str | None = None
    service_principal_id: str | None = None


class Initiator(msgspec.Struct, rename="camel", frozen=True, gc=False):
    user: AuditUser | None = None
    app: AuditApp | None = None


class ModifiedProperty(msgspec.Struct, rename="camel", frozen=True, gc=False):
    display_name: str | None = None
    old_value: str | None = None
    new_value: str | None = None


class TargetResource(msgspec.Struct, rename="camel", frozen=True, gc=False):
    id: str | None = None
    display_name: str | None = None
    type: str | None = None
    user_principal_name: str | None = None
    modified_properties: list[ModifiedProperty] | None = None


class KeyValue(msgspec.Struct, frozen=True, gc=False):
    key: str | None = None
    value: str | None = None


class AuditEvent(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One directory audit row (Graph's directoryAudit)."""

    id: str
    activity_date_time: datetime
    activity_display_name: str
    category: str | None = None
    logged_by_service: str | None = None
    operation_type: str | None = None
    result: str | None = None
    result_reason: str | None = None
    correlation_id: str | None = None
    initiated_by: Initiator | None = None
    target_resources: list[TargetResource] | None = None
    additional_details: list[KeyValue] | None = None

    @property
    def initiator_user(self) -> AuditUser | None:
        return self.initiated_by.user if self.initiated_by is not None else None

    @property
    def ip_address(self) -> str | None:
        """Where the activity came from: the initiating user's address, when Graph gives one."""
        user = self.initiator_user
        return (user.ip_address or None) if user is not None else None

    @property
    def succeeded(self) -> bool:
        return (self.result or "success").lower() == "success"

    def concerns(self, keys: frozenset[str]) -> bool:
        """Whether the user (object id or UPN, lower case) initiated or is a target of it."""
        user = self.initiator_user
        if user is not None and keys & {(user.id or "").lower(),
                                        (user.user_principal_name or "").lower()}:
            return True
        return any(keys & {(t.id or "").lower(), (t.user_principal_name or "").lower()}
                   for t in self.target_resources or () if (t.type or "User") == "User")

    def detail(self, key: str) -> str | None:
        """An additionalDetails value by key (case-insensitive), or None."""
        for pair in self.additional_details or ():
            if (pair.key or "").lower() == key.lower():
                return pair.value
        return None

    def app_name(self) -> str | None:
        """The application a consent or grant concerns: its target resource's name."""
        for target in self.target_resources or ():
            if (target.type or "") in ("ServicePrincipal", "Application") and target.display_name:
                return target.display_name
        return None

    def app_target_id(self) -> str | None:
        for target in self.target_resources or ():
            if (target.type or "") in ("ServicePrincipal", "Application") and target.id:
                return target.id
        return None


class AuditPage(msgspec.Struct, frozen=True, gc=False):
    """One page of GET /auditLogs/directoryAudits."""

    value: list[AuditEvent]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class AuthMethod(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One authentication method of a user (GET /users/{id}/authentication/methods)."""

    id: str
    odata_type: str = msgspec.field(default="", name="@odata.type")
    created_date_time: datetime | None = None
    display_name: str | None = None
    device_tag: str | None = None
    phone_app_version: str | None = None
    phone_number: str | None = None
    phone_type: str | None = None
    email_address: str | None = None
    model: str | None = None

    @property
    def kind(self) -> str:
        """"microsoftAuthenticator", "phone", "fido2", "password" ... from @odata.type."""
        name = self.odata_type.rsplit(".", 1)[-1]
        return name.removesuffix("AuthenticationMethod") or "unknown"

    @property
    def label(self) -> str:
        """How the approval mail and the reasons name it: kind and the device or number."""
        shown = self.display_name or self.phone_number or self.email_address or self.model
        return f"{self.kind} ({shown})" if shown else self.kind


class AuthMethodPage(msgspec.Struct, frozen=True, gc=False):
    value: list[AuthMethod]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class Recipient(msgspec.Struct, rename="camel", frozen=True, gc=False):
    email_address: EmailAddress | None = None


class EmailAddress(msgspec.Struct, rename="camel", frozen=True, gc=False):
    address: str | None = None
    name: str | None = None


class RuleActions(msgspec.Struct, rename="camel", frozen=True, gc=False):
    forward_to: list[Recipient] | None = None
    forward_as_attachment_to: list[Recipient] | None = None
    redirect_to: list[Recipient] | None = None
    delete: bool | None = None
    permanent_delete: bool | None = None
    mark_as_read: bool | None = None
    move_to_folder: str | None = None
    stop_processing_rules: bool | None = None


class InboxRule(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One inbox rule (GET /users/{id}/mailFolders/inbox/messageRules)."""

    id: str
    display_name: str | None = None
    sequence: int | None = None
    is_enabled: bool | None = None
    has_error: bool | None = None
    actions: RuleActions | None = None


class InboxRulePage(msgspec.Struct, frozen=True, gc=False):
    value: list[InboxRule]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class PermissionGrant(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """A delegated permission grant (GET /users/{id}/oauth2PermissionGrants): `clientId` is the
    consented application's service principal; `consentType` "Principal" is this user's own
    consent, "AllPrincipals" an admin's for everyone
    (https://learn.microsoft.com/en-us/graph/api/resources/oauth2permissiongrant)."""

    id: str
    client_id: str
    consent_type: str | None = None
    principal_id: str | None = None
    resource_id: str | None = None
    scope: str | None = None


class PermissionGrantPage(msgspec.Struct, frozen=True, gc=False):
    value: list[PermissionGrant]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class Followed(msgspec.Struct, rename="camel", kw_only=True):
    """What followed one user's sign-ins, as read for the review: the audit rows that concern
    the user, and (read only for users at low or above) their methods and inbox rules now.

    `None` for methods or rules means not read (a reason in `unread`), never "has none"."""

    audit_events: list[AuditEvent] = msgspec.field(default_factory=list)
    audit_read: bool = False
    methods: list[AuthMethod] | None = None
    rules: list[InboxRule] | None = None
    grants: list[PermissionGrant] | None = None
    tenant_domains: list[str] = msgspec.field(default_factory=list)  # lower case, "contoso.com"
    unread: dict[str, str] = msgspec.field(default_factory=dict)  # "methods" -> why
