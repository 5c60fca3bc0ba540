using './main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'signin-review')
param location = readEnvironmentVariable('AZURE_LOCATION', 'westeurope')
param approverEmail = readEnvironmentVariable('APPROVER_EMAIL')
param approverGroupId = readEnvironmentVariable('APPROVER_GROUP_ID')
param evidenceRetentionDays = int(readEnvironmentVariable('EVIDENCE_RETENTION_DAYS', '365'))
param protectEvidenceFromDeletion = bool(readEnvironmentVariable('PROTECT_EVIDENCE', 'false'))
param evidencePolicyLocked = bool(readEnvironmentVariable('EVIDENCE_POLICY_LOCKED', 'false'))
param tenantTimeZone = readEnvironmentVariable('TENANT_TIME_ZONE', 'UTC')
param holidays = readEnvironmentVariable('HOLIDAYS', '')
param graphApiVersion = readEnvironmentVariable('GRAPH_API_VERSION', 'v1.0')
