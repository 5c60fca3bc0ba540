// The function app on Flex Consumption (Linux, Python 3.11). Storage is reached with the reader
// identity (AzureWebJobsStorage__* settings, no connection string); the one secret it reads,
// the approval workflow URL, is a Key Vault reference.

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for every resource; azd finds the app by its azd-service-name tag.')
param tags object

@description('Storage account holding the host state, queues, tables, reports and evidence.')
param storageAccountName string

@description('Blob container the plan deploys the app package from.')
param deploymentContainerName string

@description('Application Insights component for telemetry.')
param insightsName string

@description('Resource id of the reader identity (the app identity for storage and Graph reads).')
param readerId string

@description('Client id of the reader identity.')
param readerClientId string

@description('Resource id of the remediator identity.')
param remediatorId string

@description('Client id of the remediator identity.')
param remediatorClientId string

@description('Key Vault secret URI of the approval workflow trigger URL.')
param approvalWebhookSecretUri string

@description('Settings the program reads that are not about identity or storage (see main.bicep).')
param reviewSettings object

@description('Highest number of instances the plan may scale out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: insightsName
}

// Identity and storage settings. Storage is reached by service URI and the reader identity;
// nothing here is a key or a connection string (Application Insights' connection string is an
// ingestion address, and with local auth off it only accepts the identity named beside it).
var platformSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: readerClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${readerClientId};Authorization=AAD'
  GRAPH_CREDENTIAL: 'managed-identity'
  GRAPH_READER_CLIENT_ID: readerClientId
  GRAPH_REMEDIATOR_CLIENT_ID: remediatorClientId
  APPROVAL_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${approvalWebhookSecretUri})'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption exists only in some regions and needs zone-redundant storage; the review is a batch job that retries from its queues.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys, and the remediation route also with an Entra token checked in code; client certificates would add a secret to rotate and the Logic App's managed-identity call cannot present one.
  // checkov:skip=CKV_AZURE_222: the app has no virtual network here, and the approval Logic App and ticketing systems call it over the internet; every route needs a function key, remediation also an Entra token.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances by load; there is no fixed instance count to fail over to.
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; failures surface in Application Insights and the poison queues.
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${readerId}': {}
      '${remediatorId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: readerId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: [
        for setting in items(union(platformSettings, reviewSettings)): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: readerId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Publishing with a user name and password is off; azd deploys with an Entra token.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}


output name string = site.name
output hostName string = site.properties.defaultHostName
