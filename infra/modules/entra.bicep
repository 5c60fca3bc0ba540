// Microsoft Entra ID objects, through the Microsoft Graph Bicep extension:
//   - Microsoft Graph application permissions (app roles) for the reader and the remediator,
//     exactly the list below, nothing more;
//   - the remediation API's app registration: the audience of the token the approval workflow
//     presents, with one app role that only the approvals identity holds;
//   - the report sign-in app registration: the function app's platform authentication signs
//     approvers in with it, and only members of the approvers' group may get a token for it.
// Graph assignments to the just-created managed identities can fail on the first deployment
// (directory replication); nothing else waits for this module, and a second run succeeds
// (see the deploy notes).
// The deploying user needs Privileged Role Administrator (or a role that may grant app roles
// and create applications). Directory roles cannot be granted here: see the deploy notes.

extension microsoftGraphV1

@description('Principal (object) id of the reader identity.')
param readerPrincipalId string

@description('Principal (object) id of the remediator identity.')
param remediatorPrincipalId string

@description('Principal (object) id of the approvals identity (the Logic App).')
param approvalsPrincipalId string

@description('Unique name of the remediation API app registration in the tenant.')
param apiUniqueName string

@description('Application id URI the approval workflow requests its token for.')
param apiIdentifierUri string

@description('Unique name of the report sign-in app registration in the tenant.')
param reportUniqueName string

@description('Host name of the function app whose platform authentication signs approvers in.')
param reportHostName string

@description('Object id of the Entra group whose members approve remediations and read the reports.')
param approverGroupId string

var graphAppId = '00000003-0000-0000-c000-000000000000'

// Microsoft Graph application permissions, one line per grant.
var graphPermissions = [
  // reader: sign-in logs, directory (users, privileged role members), Identity Protection
  {
    principalId: readerPrincipalId
    permission: 'AuditLog.Read.All'
  }
  {
    principalId: readerPrincipalId
    permission: 'Directory.Read.All'
  }
  {
    principalId: readerPrincipalId
    permission: 'IdentityRiskyUser.Read.All'
  }
  {
    // PIM-eligible administrators: roleAssignments lists active assignments only
    principalId: readerPrincipalId
    permission: 'RoleEligibilitySchedule.Read.Directory'
  }
  {
    principalId: readerPrincipalId
    permission: 'IdentityRiskEvent.Read.All'
  }
  // reader: Conditional Access named locations (trusted ranges are familiar networks)
  {
    principalId: readerPrincipalId
    permission: 'Policy.Read.All'
  }
  // reader: what followed a suspicious sign-in, for users at low or above: authentication
  // methods (authentication-list-methods) and inbox rules (mailfolder-list-messagerules);
  // delegated grants are read with Directory.Read.All (user-list-oauth2permissiongrants)
  {
    principalId: readerPrincipalId
    permission: 'UserAuthenticationMethod.Read.All'
  }
  {
    principalId: readerPrincipalId
    permission: 'MailboxSettings.Read'
  }
  // remediator: revoke sessions, disable (documented with User.Read.All beside it), confirm
  // compromised, force a password reset (the reset also needs the User Administrator directory
  // role: a post-deploy step)
  {
    principalId: remediatorPrincipalId
    permission: 'User.RevokeSessions.All'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'User.EnableDisableAccount.All'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'User.Read.All'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'IdentityRiskyUser.ReadWrite.All'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'User-PasswordProfile.ReadWrite.All'
  }
  // remediator: containment of what the attacker left (docs/persistence.md): remove an
  // authentication method (e.g. microsoftauthenticatorauthenticationmethod-delete), disable an
  // inbox rule (messagerule-update), revoke a delegated grant (oauth2permissiongrant-delete)
  {
    principalId: remediatorPrincipalId
    permission: 'UserAuthenticationMethod.ReadWrite.All'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'MailboxSettings.ReadWrite'
  }
  {
    principalId: remediatorPrincipalId
    permission: 'DelegatedPermissionGrant.ReadWrite.All'
  }
]

var invokeRoleValue = 'Remediations.Invoke'

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource graphAppRoles 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for grant in graphPermissions: {
    principalId: grant.principalId
    resourceId: graph.id
    appRoleId: filter(graph.appRoles, role => role.value == grant.permission)[0].id
  }
]

resource remediationApi 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: 'Sign-in review remediation API'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    apiIdentifierUri
  ]
  // `idtyp` (app or user) in access tokens: the API refuses any token that is not an app's
  // (shared/api/auth.py; "Access token claims reference" and "Optional claims reference" in the
  // Microsoft identity platform docs).
  optionalClaims: {
    accessToken: [
      {
        name: 'idtyp'
        essential: false
      }
    ]
  }
  appRoles: [
    {
      id: guid(apiUniqueName, invokeRoleValue)
      value: invokeRoleValue
      displayName: 'Call POST /api/remediations'
      description: 'Carry an approved remediation to the sign-in review function app.'
      allowedMemberTypes: [
        'Application'
      ]
      isEnabled: true
    }
  ]
}

// Tokens for the API are issued only to principals that hold its app role.
resource remediationApiPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: remediationApi.appId
  appRoleAssignmentRequired: true
}

resource approvalsInvoke 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: approvalsPrincipalId
  resourceId: remediationApiPrincipal.id
  appRoleId: guid(apiUniqueName, invokeRoleValue)
}

// Approvers open the report linked from the approval mail with their own Entra sign-in: the
// function app's platform authentication (site-auth.bicep) signs them in with this registration
// (ID token only, so no client secret), and Entra issues that token only to principals assigned
// to it: the approvers' group.
resource reportSignIn 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: reportUniqueName
  displayName: 'Sign-in review reports'
  signInAudience: 'AzureADMyOrg'
  // The approvers' group in the ID token's `groups` claim, which the platform checks
  // (site-auth.bicep) and passes to the app in X-MS-CLIENT-PRINCIPAL, where the report route
  // checks it again. ApplicationGroup emits only the groups assigned to this registration (the
  // approvers'), so a member of many groups never hits the groups overage limit ("Configure
  // group claims for applications" and the application resource's groupMembershipClaims, in
  // Microsoft's Entra ID and Graph docs).
  groupMembershipClaims: 'ApplicationGroup'
  optionalClaims: {
    idToken: [
      {
        name: 'groups'
        essential: false
      }
    ]
  }
  web: {
    redirectUris: [
      'https://${reportHostName}/.auth/login/aad/callback'
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: true
    }
  }
}

resource reportSignInPrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: reportSignIn.appId
  appRoleAssignmentRequired: true
}

// Default access (the all-zero app role id) for the approvers' group.
resource approversMayReadReports 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  principalId: approverGroupId
  resourceId: reportSignInPrincipal.id
  appRoleId: '00000000-0000-0000-0000-000000000000'
}

// Consent, once for the tenant, to the sign-in scopes, so no approver meets a consent prompt.
resource reportSignInConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = {
  clientId: reportSignInPrincipal.id
  consentType: 'AllPrincipals'
  resourceId: graph.id
  scope: 'openid profile'
}

output reportSignInClientId string = reportSignIn.appId
