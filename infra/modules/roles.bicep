// Azure role assignments, generated from one list per scope. Each is named
// guid(scope, principal, role) so a redeployment finds the same assignment again.
// The remediator holds no Azure roles: it only calls Microsoft Graph (see entra.bicep).

@description('Storage account holding the queues, tables, reports and evidence.')
param storageAccountName string

@description('Key Vault holding the approval workflow trigger URL.')
param vaultName string

@description('Application Insights component that receives telemetry.')
param insightsName string

@description('Principal (object) id of the function app identity.')
param readerPrincipalId string

// Built-in roles, by name and id: one table for every template (infra/builtin-roles.json),
// checked against Microsoft's published list by tests/infra/test_roles.py.
var roles = loadJsonContent('../builtin-roles.json')

// Blob Data Owner: the Functions host keeps its leases and keys in blobs, and the app writes
// reports and evidence. Queue and Table Data Contributor: triggers, messages, run state.
var storageGrants = [
  {
    principalId: readerPrincipalId
    roleId: roles.storageBlobDataOwner.id
  }
  {
    principalId: readerPrincipalId
    roleId: roles.storageQueueDataContributor.id
  }
  {
    principalId: readerPrincipalId
    roleId: roles.storageTableDataContributor.id
  }
]

// Secrets User: resolve the APPROVAL_WEBHOOK_URL Key Vault reference.
var vaultGrants = [
  {
    principalId: readerPrincipalId
    roleId: roles.keyVaultSecretsUser.id
  }
]

// Metrics Publisher: send telemetry to an Application Insights resource whose keys are off.
var insightsGrants = [
  {
    principalId: readerPrincipalId
    roleId: roles.monitoringMetricsPublisher.id
  }
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: insightsName
}

resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in storageGrants: {
    scope: storage
    name: guid(storage.id, grant.principalId, grant.roleId)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleId)
    }
  }
]

resource vaultAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in vaultGrants: {
    scope: vault
    name: guid(vault.id, grant.principalId, grant.roleId)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleId)
    }
  }
]

resource insightsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in insightsGrants: {
    scope: insights
    name: guid(insights.id, grant.principalId, grant.roleId)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleId)
    }
  }
]
