// Sign-in review: everything `azd up` provisions. This file only wires the modules; each
// module owns one concern. Names come from abbreviations.json plus a uniqueString token.

targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@minLength(3)
@description('Mailbox or distribution list that approves remediations.')
param approverEmail string

@minLength(36)
@maxLength(36)
@description('Object id of the Entra group whose members approve remediations; they open the linked report with their own sign-in.')
param approverGroupId string

@description('Days each evidence blob version stays immutable. HIPAA incident records: 2190.')
@minValue(1)
@maxValue(36500)
param evidenceRetentionDays int = 365

@description('Put a CanNotDelete lock on the storage account. Locking the retention policy itself is a separate, irreversible command (see the deploy notes).')
param protectEvidenceFromDeletion bool = false

@description('Set to true after locking the evidence retention policy by hand, so later deployments leave the locked policy alone.')
param evidencePolicyLocked bool = false

@description('NCRONTAB schedule (six fields, UTC). Every business-day morning: the program decides whether that morning has a window to review (after a weekend or a holiday).')
param reviewSchedule string = '0 0 6 * * 1-5'

@description('NCRONTAB schedule (six fields, UTC) of the quarterly review of privileged accounts: mornings of the first week of each quarter; the program starts it on the first business day only, for the quarter just ended.')
param privilegedReviewSchedule string = '0 0 6 1-7 1,4,7,10 *'

@description('IANA time zone the review windows, business hours and holidays are read in.')
param tenantTimeZone string = 'UTC'

@description('Business hours, HH:MM-HH:MM in the tenant time zone.')
param businessHours string = '08:00-18:00'

@description('Business days, comma separated (Mon..Sun).')
param businessDays string = 'Mon,Tue,Wed,Thu,Fri'

@description('Public holidays, ISO dates separated by commas; the review also runs the morning after each.')
param holidays string = ''

@description('Also review weekday nights, not only weekends and holidays.')
param reviewWeekdayNights bool = false

@description('Microsoft Graph version for sign-ins: v1.0 (interactive only) or beta (adds non-interactive sign-ins, ASN, user agent).')
@allowed([
  'v1.0'
  'beta'
])
param graphApiVersion string = 'v1.0'

@description('More directory role template ids to treat as privileged, comma separated.')
param privilegedRoleIds string = ''

@description('Where sign-ins are read: graph, archive (the diagnostic-settings archive in a storage account) or log-analytics (a workspace). See docs/sources.md.')
@allowed([
  'graph'
  'archive'
  'log-analytics'
])
param signinSource string = 'graph'

@description('Resource id of an existing storage account that Entra ID diagnostic settings archive sign-in logs to; empty: none. The reader identity gets Storage Blob Data Reader on it.')
param archiveStorageAccountId string = ''

@description('Resource id of an existing Log Analytics workspace that receives Entra ID sign-in logs; empty: none. The reader identity gets Log Analytics Reader on it.')
param logAnalyticsWorkspaceResourceId string = ''


// A sign-in source without its resource would deploy cleanly and fail every trigger: the module
// refuses it at deployment time, naming the parameter to give.
module signinSourceCheck 'modules/signin-source.bicep' = {
  name: 'signin-source-check'
  scope: rg
  params: {
    signinSource: signinSource
    archiveStorageAccountId: archiveStorageAccountId
    logAnalyticsWorkspaceResourceId: logAnalyticsWorkspaceResourceId
  }
}

var abbrs = loadJsonContent('abbreviations.json')
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  workload: 'signin-review'
}
var deploymentContainerName = 'app-package-${token}'
var webhookSecretName = 'approval-webhook-url'
var apiIdentifierUri = 'api://${tenant().tenantId}/signin-review-${token}'
var loginEndpoint = environment().authentication.loginEndpoint

// Settings the program reads (shared/config.py) that this deployment decides. The rest keep
// the program's defaults; tests/infra lists each one with the reason its default is safe.
var reviewSettings = {
  REVIEW_SCHEDULE: reviewSchedule
  PRIVILEGED_REVIEW_SCHEDULE: privilegedReviewSchedule
  TENANT_TIME_ZONE: tenantTimeZone
  BUSINESS_HOURS: businessHours
  BUSINESS_DAYS: businessDays
  HOLIDAYS: holidays
  REVIEW_WEEKDAY_NIGHTS: string(reviewWeekdayNights)
  GRAPH_API_VERSION: graphApiVersion
  PRIVILEGED_ROLE_IDS: privilegedRoleIds
  EVIDENCE_RETENTION_DAYS: string(evidenceRetentionDays)
  AUTH_TENANT_ID: tenant().tenantId
  AUTH_AUDIENCE: apiIdentifierUri
  AUTH_ISSUER: 'https://sts.windows.net/${tenant().tenantId}/'
  AUTH_JWKS_URL: '${loginEndpoint}${tenant().tenantId}/discovery/keys'
  REMEDIATION_ALLOWED_CALLERS: identities.outputs.approvalsPrincipalId
  APPROVER_GROUP_ID: approverGroupId
  SIGNIN_SOURCE: signinSourceCheck.outputs.signinSource
  ARCHIVE_ACCOUNT_URL: empty(archiveStorageAccountId) ? '' : 'https://${last(split(archiveStorageAccountId, '/'))}.blob.${environment().suffixes.storage}'
  ARCHIVE_TENANT_ID: tenant().tenantId
  LOG_ANALYTICS_WORKSPACE_ID: workspaceReader.outputs.workspaceCustomerId
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    prefix: abbrs.managedIdentityUserAssignedIdentities
    token: token
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${token}'
    location: location
    tags: tags
    evidenceRetentionDays: evidenceRetentionDays
    deploymentContainerName: deploymentContainerName
    protectFromDeletion: protectEvidenceFromDeletion
    retentionPolicyLocked: evidencePolicyLocked
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: '${abbrs.operationalInsightsWorkspaces}${token}'
    insightsName: '${abbrs.insightsComponents}${token}'
    location: location
    tags: tags
  }
}

module vault 'modules/vault.bicep' = {
  name: 'vault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${token}'
    location: location
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    vaultName: vault.outputs.name
    insightsName: monitoring.outputs.insightsName
    readerPrincipalId: identities.outputs.readerPrincipalId
  }
}

// The reader's role on an existing archive account or workspace, in that resource's own group;
// with none given, each deploys to the app's group and grants nothing.
module archiveReader 'modules/source-reader.bicep' = {
  name: 'archive-reader'
  scope: resourceGroup(empty(archiveStorageAccountId) ? subscription().subscriptionId : split(archiveStorageAccountId, '/')[2], empty(archiveStorageAccountId) ? rg.name : split(archiveStorageAccountId, '/')[4])
  params: {
    storageAccountName: empty(archiveStorageAccountId) ? '' : last(split(archiveStorageAccountId, '/'))
    readerPrincipalId: identities.outputs.readerPrincipalId
  }
}

module workspaceReader 'modules/source-reader.bicep' = {
  name: 'workspace-reader'
  scope: resourceGroup(empty(logAnalyticsWorkspaceResourceId) ? subscription().subscriptionId : split(logAnalyticsWorkspaceResourceId, '/')[2], empty(logAnalyticsWorkspaceResourceId) ? rg.name : split(logAnalyticsWorkspaceResourceId, '/')[4])
  params: {
    workspaceName: empty(logAnalyticsWorkspaceResourceId) ? '' : last(split(logAnalyticsWorkspaceResourceId, '/'))
    readerPrincipalId: identities.outputs.readerPrincipalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: '${abbrs.webSitesFunctions}${token}'
    planName: '${abbrs.webServerFarms}${token}'
    location: location
    tags: tags
    serviceName: 'api'
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    readerId: identities.outputs.readerId
    remediatorId: identities.outputs.remediatorId
  }
  dependsOn: [
    roles
  ]
}

module logicApp 'modules/logic-app.bicep' = {
  name: 'logic-app'
  scope: rg
  params: {
    name: '${abbrs.logicWorkflows}${token}'
    connectionName: '${abbrs.webConnections}office365-${token}'
    location: location
    tags: tags
    approvalsId: identities.outputs.approvalsId
    functionAppHostName: functionApp.outputs.hostName
    remediationAudience: apiIdentifierUri
    approverEmail: approverEmail
    vaultName: vault.outputs.name
    webhookSecretName: webhookSecretName
  }
}

// After the Logic App module: the Key Vault reference is written once its secret exists.
module appSettings 'modules/app-settings.bicep' = {
  name: 'app-settings'
  scope: rg
  params: {
    siteName: functionApp.outputs.name
    storageAccountName: storage.outputs.name
    insightsName: monitoring.outputs.insightsName
    readerClientId: identities.outputs.readerClientId
    remediatorClientId: identities.outputs.remediatorClientId
    approvalWebhookSecretUri: logicApp.outputs.webhookVaultUri
    reviewSettings: reviewSettings
  }
}

// Graph grants and app registrations. Assigning app roles to managed identities created minutes
// earlier can fail on the first run (directory replication); only the sign-in configuration
// waits for this module, and running `azd provision` again completes it (see the deploy notes).
module entra 'modules/entra.bicep' = {
  name: 'entra'
  scope: rg
  params: {
    readerPrincipalId: identities.outputs.readerPrincipalId
    remediatorPrincipalId: identities.outputs.remediatorPrincipalId
    approvalsPrincipalId: identities.outputs.approvalsPrincipalId
    apiUniqueName: 'signin-review-${token}'
    apiIdentifierUri: apiIdentifierUri
    reportUniqueName: 'signin-review-reports-${token}'
    reportHostName: functionApp.outputs.hostName
    approverGroupId: approverGroupId
  }
}

module siteAuth 'modules/site-auth.bicep' = {
  name: 'site-auth'
  scope: rg
  params: {
    siteName: functionApp.outputs.name
    clientId: entra.outputs.reportSignInClientId
    approverGroupId: approverGroupId
  }
  dependsOn: [
    appSettings // one configuration write to the site at a time
  ]
}

// Names and addresses only: nothing here is a key, a connection string or a signed URL.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.hostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_LOGIC_APP_NAME string = logicApp.outputs.name
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output REMEDIATION_API_IDENTIFIER_URI string = apiIdentifierUri
output REMEDIATOR_PRINCIPAL_ID string = identities.outputs.remediatorPrincipalId
