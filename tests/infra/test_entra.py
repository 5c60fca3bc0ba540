"""Microsoft Graph application permissions per identity, exactly, and the approval workflow's
contract with the function app."""

from __future__ import annotations

import re
from pathlib import Path

from shared.api.auth import INVOKE_ROLE
from tests.infra.templates import INFRA, body, module, resource, text, variable

REPO: Path = INFRA.parent

READER = {
    "AuditLog.Read.All",
    "Directory.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskEvent.Read.All",
    "RoleEligibilitySchedule.Read.Directory",
    "Policy.Read.All",
    "UserAuthenticationMethod.Read.All",  # what followed: methods
    "MailboxSettings.Read",  # what followed: inbox rules
}
REMEDIATOR = {
    "User.RevokeSessions.All",
    "User.EnableDisableAccount.All",
    "User.Read.All",  # documented beside User.EnableDisableAccount.All for disabling accounts
    "IdentityRiskyUser.ReadWrite.All",
    "User-PasswordProfile.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",  # containment: remove a method
    "MailboxSettings.ReadWrite",  # containment: disable an inbox rule
    "DelegatedPermissionGrant.ReadWrite.All",  # containment: revoke a grant
}


def test_graph_permissions_are_exactly_as_listed() -> None:
    entra = module("entra")
    granted: dict[str, set[str]] = {}
    for grant in variable(entra, "graphPermissions"):
        granted.setdefault(grant["principalId"], set()).add(grant["permission"])
    assert granted == {"readerPrincipalId": READER, "remediatorPrincipalId": REMEDIATOR}
    assert len(variable(entra, "graphPermissions")) == len(READER) + len(REMEDIATOR)


def test_graph_permissions_are_assigned_on_microsoft_graph() -> None:
    entra = module("entra")
    graph = resource(entra, "graph")
    assert graph["existing"] is True
    assert body(graph)["appId"] == "graphAppId"
    assert variable(entra, "graphAppId") == "00000003-0000-0000-c000-000000000000"
    assignments = resource(entra, "graphAppRoles")
    loop = assignments["config"]["loop_type"]["detail"]
    assert loop == {"item_name": "grant", "array_name": "graphPermissions"}
    declared = body(assignments)
    assert text(declared["resourceId"]) == text(
        {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": "graph", "operand_2": "id"},
            }
        }
    )
    # The role is looked up by its value on Graph's own service principal, not a pasted id.
    assert "grant" in text(declared["appRoleId"]) and "appRoles" in text(declared["appRoleId"])


def test_only_the_approvals_identity_may_call_the_remediation_api() -> None:
    entra = module("entra")
    api = body(resource(entra, "remediationApi"))
    assert api["signInAudience"] == "AzureADMyOrg"
    assert [role["allowedMemberTypes"] for role in api["appRoles"]] == [["Application"]]
    principal = body(resource(entra, "remediationApiPrincipal"))
    assert principal["appRoleAssignmentRequired"] is True
    invoke = body(resource(entra, "approvalsInvoke"))
    assert invoke["principalId"] == "approvalsPrincipalId"
    # `idtyp` in its access tokens: the API admits app tokens only (shared/api/auth.py)
    assert [c["name"] for c in api["optionalClaims"]["accessToken"]] == ["idtyp"]
    assert [role["value"] for role in api["appRoles"]] == ["invokeRoleValue"]
    assert variable(entra, "invokeRoleValue") == INVOKE_ROLE


def test_workflow_is_triggered_with_the_runs_verdicts() -> None:
    logic = module("logic-app")
    workflow = body(resource(logic, "workflow"))
    trigger = workflow["properties"]["definition"]["triggers"]["manual"]
    assert trigger["type"] == "Request" and trigger["kind"] == "Http"
    schema = trigger["inputs"]["schema"]
    # privilegedReview: the sign-off request of a privileged run (docs/privileged-review.md).
    assert set(schema["properties"]) == {"runId", "reportUrl", "verdicts", "privilegedReview"}
    assert schema["properties"]["verdicts"]["items"] == "verdictSchema"
    verdict = variable(logic, "verdictSchema")["properties"]
    assert set(verdict) == {"userId", "userPrincipalName", "verdict", "reasons", "proposedActions",
                            "mailHtml"}
    assert "mailHtml" in variable(logic, "verdictSchema")["required"]


def test_each_verdict_waits_for_an_approval_mail() -> None:
    ask = variable(module("logic-app"), "askApprover")
    assert ask["type"] == "ApiConnectionWebhook"
    assert ask["inputs"]["path"] == "/approvalmail/$subscriptions"
    message = ask["inputs"]["body"]["Message"]
    assert message["Options"] == "Approve, Reject"
    assert message["To"] == "approverEmail"
    assert ask["inputs"]["body"]["NotificationUrl"] == "@{listCallbackUrl()}"


def test_approved_remediation_is_called_with_the_managed_identity() -> None:
    logic = module("logic-app")
    actions = body(resource(logic, "workflow"))["properties"]["definition"]["actions"]
    loop = actions["For_each_verdict"]
    branch = loop["actions"]["If_approved"]
    assert branch["runAfter"] == {"Ask_approver": ["Succeeded"]}
    assert "SelectedOption" in text(branch["expression"]) and "Approve" in text(
        branch["expression"]
    )
    assert branch["actions"]["Call_remediations"] == "callRemediations"
    call = variable(logic, "callRemediations")["inputs"]
    assert call["method"] == "POST"
    assert call["uri"] == "https://${functionAppHostName}/api/remediations"
    assert "queries" not in call, "no function key: the route checks the Entra token in process"
    assert call["authentication"] == {
        "type": "ManagedServiceIdentity",
        "identity": "approvalsId",
        "audience": "remediationAudience",
    }
    assert set(call["body"]) == {"runId", "userId", "actions", "approver", "approvalId", "comment"}
    assert "UserEmailAddress" in call["body"]["approver"]
    assert "workflow().run.name" in call["body"]["approvalId"], "stable across HTTP retries"


def test_workflow_runs_as_the_approvals_identity() -> None:
    workflow = body(resource(module("logic-app"), "workflow"))
    assert workflow["identity"]["type"] == "UserAssigned"
    assert list(workflow["identity"]["userAssignedIdentities"]) == ["'${approvalsId}'"]
    definition_params = workflow["properties"]["definition"]["parameters"]
    assert set(definition_params) == {"'$connections'"}


def test_approval_mail_body_is_the_html_the_app_renders() -> None:
    """The Logic App sends the body the function app rendered (shared/pipeline/approval_mail.py):
    HTML with an absolute report link, not text whose line breaks Outlook collapses."""
    message = variable(module("logic-app"), "askApprover")["inputs"]["body"]["Message"]
    # pycep keeps Bicep's escaped quotes as written.
    assert message["Body"] == "@{${verdict}?[\\'mailHtml\\']}"
    assert message["HideHTMLMessage"] is False
    assert "\\n" not in text(message) and "\n" not in text(message)


PERMISSION = re.compile(r"\b[A-Z][\w-]*(?:\.[A-Za-z]+)+\b")


def documented_permissions(path: Path, identity: str) -> set[str]:
    """The Graph permissions a markdown table lists for one identity (its first cells)."""
    rows = [line for line in path.read_text().splitlines()
            if re.match(rf"\|\s*{identity}\b", line)]
    assert len(rows) == 1, f"{path.name}: one permissions row for {identity}"
    graph_cell = rows[0].split("|")[2]
    return set(PERMISSION.findall(graph_cell))


def test_permission_tables_in_the_docs_match_the_template() -> None:
    for path in (REPO / "README.md", REPO / "docs" / "deploy.md"):
        assert documented_permissions(path, "reader") == READER, path.name
        assert documented_permissions(path, "remediator") == REMEDIATOR, path.name
