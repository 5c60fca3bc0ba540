// The reader identity's role on an existing sign-in source outside this deployment: the
// storage account Entra ID diagnostic settings archive sign-in logs to, or the Log Analytics
// workspace they stream to. Deployed into that resource's own resource group (the app's own
// when the source is not given, and then it grants nothing).
// Role ids come from the one table of built-in roles (infra/builtin-roles.json), checked
// against Microsoft's published list by tests/infra/test_roles.py.

@description('Name of the existing archive storage account; empty when this instance is for a workspace.')
param storageAccountName string = ''

@description('Name of the existing Log Analytics workspace; empty when this instance is for an archive.')
param workspaceName string = ''

@description('Principal (object) id of the function app identity that reads sign-ins.')
param readerPrincipalId string

var roles = loadJsonContent('../builtin-roles.json')

// Empty lists when the source is not given: the module then grants nothing.
var storageGrants = empty(storageAccountName) ? [] : [
  {
    principalId: readerPrincipalId
    roleId: roles.storageBlobDataReader.id
  }
]
var workspaceGrants = empty(workspaceName) ? [] : [
  {
    principalId: readerPrincipalId
    roleId: roles.logAnalyticsReader.id
  }
]

resource archive 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: empty(storageAccountName) ? 'none' : storageAccountName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: empty(workspaceName) ? 'none' : workspaceName
}

// Storage Blob Data Reader (2a2b9908-6ea1-4ae2-8e65-a410df84e7d1, "Allows for read access to Azure
// Storage blob containers and data": containers/read and containers/blobs/read), as listed on
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-reader
// : list and read the insights-logs-* hour blobs, nothing else.
resource archiveAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in storageGrants: {
    scope: archive
    name: guid(archive.id, grant.principalId, grant.roleId)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleId)
    }
  }
]

// Log Analytics Reader (73c42c96-874c-492b-b04d-ab87d138a893: */read, workspaces/search/action and
// workspaces/analytics/query/action, never the workspace's shared keys), as listed on
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/monitor#log-analytics-reader
// : run queries over the workspace's tables (SigninLogs and AADNonInteractiveUserSignInLogs), no
// changes to the workspace.
resource workspaceAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in workspaceGrants: {
    scope: workspace
    name: guid(workspace.id, grant.principalId, grant.roleId)
    properties: {
      principalId: grant.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleId)
    }
  }
]

@description('The workspace id (a GUID) the query API takes; empty for an archive.')
output workspaceCustomerId string = empty(workspaceName) ? '' : workspace.properties.customerId
