// The function app on Flex Consumption (Linux, Python 3.11): the plan, the site and its publishing
// policies. Its settings are one `appsettings` resource in app-settings.bicep, written after the
// Key Vault secret they reference exists; its sign-in configuration is in site-auth.bicep.

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('azd service name (azure.yaml); only the site carries the azd-service-name tag.')
param serviceName string

@description('Storage account holding the host state, queues, tables, reports and evidence.')
param storageAccountName string

@description('Blob container the plan deploys the app package from.')
param deploymentContainerName string

@description('Resource id of the reader identity (the app identity for storage and Graph reads).')
param readerId string

@description('Resource id of the remediator identity.')
param remediatorId string

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
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys, Entra tokens checked in code (remediation) or the platform's Entra sign-in (approvers' reports); client certificates would add a secret to rotate and the Logic App's managed-identity call cannot present one.
  // checkov:skip=CKV_AZURE_222: the app has no virtual network here, and the approval Logic App, approvers and ticketing systems reach it over the internet; every route needs a function key, an Entra token (remediation) or an Entra sign-in (reports).
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances by load; there is no fixed instance count to fail over to.
  // checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState ("... for Flex Consumption sites is invalid"); FTP publishing is off through the ftp basicPublishingCredentialsPolicies below.
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; failures surface in Application Insights and the poison queues.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
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
      http20Enabled: true
      remoteDebuggingEnabled: false
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

// Publishing with a user name and password is off; azd deploys with an Entra token. (FTP itself
// is off this way: Flex Consumption rejects siteConfig.ftpsState.) These policies are tracked
// resources: without a location the deployment fails.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  location: location
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  location: location
  properties: {
    allow: false
  }
}

output name string = site.name
output hostName string = site.properties.defaultHostName
