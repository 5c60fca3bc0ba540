"""Microsoft Graph application permissions per identity, exactly, and the approval workflow's
contract with the function app."""

from __future__ import annotations

from tests.infra.templates import body, module, resource, text, variable

READER = {
    "AuditLog.Read.All",
    "Directory.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskEvent.Read.All",
}
REMEDIATOR = {
    "User.RevokeSessions.All",
    "User.EnableDisableAccount.All",
    "IdentityRiskyUser.ReadWrite.All",
    "User-PasswordProfile.ReadWrite.All",
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


def test_workflow_is_triggered_with_the_runs_verdicts() -> None:
    logic = module("logic-app")
    workflow = body(resource(logic, "workflow"))
    trigger = workflow["properties"]["definition"]["triggers"]["manual"]
    assert trigger["type"] == "Request" and trigger["kind"] == "Http"
    schema = trigger["inputs"]["schema"]
    assert set(schema["properties"]) == {"runId", "reportUrl", "verdicts"}
    assert schema["properties"]["verdicts"]["items"] == "verdictSchema"
    verdict = variable(logic, "verdictSchema")["properties"]
    assert set(verdict) == {"userId", "userPrincipalName", "verdict", "reasons", "proposedActions"}


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
    assert call["uri"].endswith("/api/remediations")
    # pycep keeps Bicep's escaped quotes as written.
    assert call["queries"] == {"code": "@parameters(\\'functionKey\\')"}
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
    assert definition_params["functionKey"]["type"] == "SecureString"
