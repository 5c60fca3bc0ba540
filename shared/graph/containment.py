"""Containment calls: remove an authentication method, disable an inbox rule, revoke a delegated
grant. Each returns an `ActionOutcome` (shared.graph.remediation) and never raises to its
caller, who records every outcome in the audit trail.

- A method goes through its own kind's collection: DELETE
  /users/{id}/authentication/{kind}Methods/{methodId} (there is no DELETE on the generic
  /authentication/methods/{id}; e.g. https://learn.microsoft.com/en-us/graph/api/
  microsoftauthenticatorauthenticationmethod-delete). The password method cannot be removed;
  a phone number that is the user's default MFA method is refused by Graph until another
  default is chosen (phoneauthenticationmethod-delete). UserAuthenticationMethod.ReadWrite.All.
- A rule is disabled, not deleted, so the evidence of what it did stays in the mailbox: PATCH
  /users/{id}/mailFolders/inbox/messageRules/{ruleId} {"isEnabled": false}
  (messagerule-update; MailboxSettings.ReadWrite).
- A grant: DELETE /oauth2PermissionGrants/{id} (oauth2permissiongrant-delete;
  DelegatedPermissionGrant.ReadWrite.All).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared.graph import odata
from shared.graph.calls import native_config
from shared.graph.client import GraphConnection
from shared.graph.remediation import ActionOutcome, _perform
from shared.persistence.records import AuthMethod

# authenticationMethod kind -> (SDK collection attribute, item builder method)
_METHOD_BUILDERS: dict[str, tuple[str, str]] = {
    "microsoftAuthenticator": ("microsoft_authenticator_methods",
                               "by_microsoft_authenticator_authentication_method_id"),
    "phone": ("phone_methods", "by_phone_authentication_method_id"),
    "fido2": ("fido2_methods", "by_fido2_authentication_method_id"),
    "softwareOath": ("software_oath_methods", "by_software_oath_authentication_method_id"),
    "email": ("email_methods", "by_email_authentication_method_id"),
    "windowsHelloForBusiness": ("windows_hello_for_business_methods",
                                "by_windows_hello_for_business_authentication_method_id"),
    "temporaryAccessPass": ("temporary_access_pass_methods",
                            "by_temporary_access_pass_authentication_method_id"),
}
REMOVABLE_KINDS = frozenset(_METHOD_BUILDERS)


def _refused(action: str, user_id: str, message: str) -> ActionOutcome:
    return ActionOutcome(action, user_id, False, 0, "NotSent", message)


async def remove_method(graph: GraphConnection, user_id: str, method: AuthMethod
                        ) -> ActionOutcome:
    """DELETE the method through its kind's collection."""
    if not odata.is_guid(user_id):
        return _refused("remove_method", user_id, "the user id is not a GUID")
    names = _METHOD_BUILDERS.get(method.kind)
    if names is None:
        return _refused("remove_method", user_id,
                        f"a {method.kind} method cannot be removed through Graph")
    collection: Any = getattr(graph.client.users.by_user_id(user_id.lower()).authentication,
                              names[0])
    builder = getattr(collection, names[1])(method.id)
    send = partial(builder.delete, request_configuration=native_config())
    return (await _perform(graph, "remove_method", [user_id], send))[0]  # type: ignore[arg-type]


async def disable_rule(graph: GraphConnection, user_id: str, rule_id: str) -> ActionOutcome:
    from msgraph.generated.models.message_rule import MessageRule

    if not odata.is_guid(user_id):
        return _refused("disable_rule", user_id, "the user id is not a GUID")
    builder = graph.client.users.by_user_id(user_id.lower()).mail_folders.by_mail_folder_id(
        "inbox").message_rules.by_message_rule_id(rule_id)
    send = partial(builder.patch, MessageRule(is_enabled=False),
                   request_configuration=native_config())
    return (await _perform(graph, "disable_rule", [user_id], send))[0]  # type: ignore[arg-type]


async def revoke_grant(graph: GraphConnection, user_id: str, grant_id: str) -> ActionOutcome:
    builder = graph.client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id)
    send = partial(builder.delete, request_configuration=native_config())
    return (await _perform(graph, "revoke_grant", [user_id], send))[0]  # type: ignore[arg-type]
