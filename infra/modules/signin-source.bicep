// The sign-in source, refused at deployment time when its resource is not given: with
// signinSource archive but no archive account (or log-analytics but no workspace) the app would
// deploy cleanly and every trigger would then fail. fail() is Bicep's flow-control function
// (learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-flow-control). Its own
// file because checkov's Bicep parser does not read fail() (tests/infra/test_checkov.py); no
// resources.

@allowed([
  'graph'
  'archive'
  'log-analytics'
])
param signinSource string

param archiveStorageAccountId string

param logAnalyticsWorkspaceResourceId string

var archiveMissing = 'signinSource archive needs archiveStorageAccountId: the resource id of the storage account Entra ID diagnostic settings archive sign-in logs to (azd env set ARCHIVE_STORAGE_ACCOUNT_ID)'
var workspaceMissing = 'signinSource log-analytics needs logAnalyticsWorkspaceResourceId: the resource id of the Log Analytics workspace that receives Entra ID sign-in logs (azd env set LOG_ANALYTICS_WORKSPACE_RESOURCE_ID)'
var checkedSigninSource = ((signinSource == 'archive') && empty(archiveStorageAccountId)) ? fail(archiveMissing) : (((signinSource == 'log-analytics') && empty(logAnalyticsWorkspaceResourceId)) ? fail(workspaceMissing) : signinSource)

output signinSource string = checkedSigninSource
