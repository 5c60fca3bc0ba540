// The function app's settings, as one `Microsoft.Web/sites/config` resource named `appsettings`
// (the Azure Verified Modules pattern). One object, no loop: a `for` loop's collection must be
// known when the deployment starts (BCP178), and these settings read runtime properties of the
// storage account and Application Insights. main.bicep deploys this module after the module that
// writes the Key Vault secret, so the Key Vault reference below never points at a missing secret
// (an unresolved reference is retried only on the next configuration change, about a day later).

@description('Function app name.')
param siteName string

@description('Storage account holding the host state, queues, tables, reports and evidence.')
param storageAccountName string

@description('Application Insights component for telemetry.')
param insightsName string

@description('Client id of the reader identity.')
param readerClientId string

@description('Client id of the remediator identity.')
param remediatorClientId string

@description('Key Vault secret URI of the approval workflow trigger URL, from the module that writes the secret.')
param approvalWebhookSecretUri string

@description('Settings the program reads that are not about identity or storage (see main.bicep).')
param reviewSettings object

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

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
  PUBLIC_BASE_URL: 'https://${site.properties.defaultHostName}'
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: checkov reads every sites/config resource as the legacy authsettings; the platform sign-in is the authsettingsV2 resource in site-auth.bicep.
  // checkov:skip=CKV_AZURE_222: checkov reads every sites/config resource as a site; public access is decided on the site (see its skip in function-app.bicep).
  // checkov:skip=CKV_AZURE_63: checkov reads every sites/config resource as the 'web' config; HTTP logging is not a setting of this one (telemetry goes to Application Insights).
  // checkov:skip=CKV_AZURE_65: checkov reads every sites/config resource as the 'web' config; detailed error pages are not a setting of this one.
  // checkov:skip=CKV_AZURE_66: checkov reads every sites/config resource as the 'web' config; request tracing is not a setting of this one.
  // checkov:skip=CKV_AZURE_80: checkov reads every sites/config resource as the 'web' config; a Python app on Flex Consumption has no .NET Framework version.
  // checkov:skip=CKV_AZURE_88: checkov reads every sites/config resource as the 'web' config; Flex Consumption mounts no Azure Files share and the app uses blob storage.
  parent: site
  name: 'appsettings'
  properties: union(platformSettings, reviewSettings)
}
