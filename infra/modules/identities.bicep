// The three user-assigned identities. Each does one job, so each holds only what that job needs:
//   reader      the function app's own identity: storage, Key Vault references, telemetry, and
//               Microsoft Graph reads (sign-ins, risk, directory).
//   remediator  Microsoft Graph writes (revoke sessions, disable, reset, confirm compromised),
//               used only by the remediation path after a person approved.
//   approvals   the Logic App's identity: calls POST /api/remediations with an Entra token.

@description('Name prefix from the abbreviations table.')
param prefix string

@description('Unique suffix for this environment.')
param token string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

resource reader 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}reader-${token}'
  location: location
  tags: tags
}

resource remediator 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}remediator-${token}'
  location: location
  tags: tags
}

resource approvals 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}approvals-${token}'
  location: location
  tags: tags
}

output readerId string = reader.id
output readerClientId string = reader.properties.clientId
output readerPrincipalId string = reader.properties.principalId
output remediatorId string = remediator.id
output remediatorClientId string = remediator.properties.clientId
output remediatorPrincipalId string = remediator.properties.principalId
output approvalsId string = approvals.id
output approvalsPrincipalId string = approvals.properties.principalId
