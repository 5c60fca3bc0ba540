// Storage for the Functions host, the pipeline's queues and tables, the run reports and the
// write-once evidence. Reached only with Entra ID tokens: shared keys are off.

@description('Storage account name (3-24 lower-case letters and digits).')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Storage redundancy. Geo-redundant by default: the evidence is an audit record.')
param skuName string = 'Standard_GRS'

@description('Days each evidence blob version stays immutable after it is written.')
@minValue(1)
@maxValue(146000)
param evidenceRetentionDays int

@description('Container the Flex Consumption plan deploys the app package from.')
param deploymentContainerName string

@description('Add a CanNotDelete management lock to the account (see the deploy notes).')
param protectFromDeletion bool = false

@description('True once the retention policy has been locked by hand: a locked policy cannot be redeclared, only extended, so the template then leaves it alone.')
param retentionPolicyLocked bool = false

var queueNames = [
  'signin-slices'
  'signin-slices-poison'
  'run-ready'
  'run-ready-poison'
  'user-scoring'
  'user-scoring-poison'
  'review-user'
  'review-user-poison'
]

var tableNames = [
  'runs'
  'verdicts'
  'baselines'
  'remediations'
]

// Reports and the deployment package are rewritten; only evidence is write-once.
var mutableContainerNames = [
  'reports'
  deploymentContainerName
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the Flex Consumption app has no virtual network here, so the account must accept traffic from Azure; every request still needs an Entra ID token (shared keys are off).
  // checkov:skip=CKV_AZURE_59: public network access stays on for the same reason (no virtual network); shared keys are off, so every request needs an Entra token and a data role.
  // checkov:skip=CKV_AZURE_43: the name is built from the abbreviations table and uniqueString, which the check cannot evaluate.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Version-level immutability needs versioning.
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: 30
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 30
    }
  }
}

resource evidence 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'evidence'
  properties: {
    publicAccess: 'None'
    immutableStorageWithVersioning: {
      enabled: true
    }
  }
}

// Time-based retention for every version in the evidence container. Created unlocked: a
// locked policy can never be shortened or removed, so locking is a deliberate step of its own.
resource evidencePolicy 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (!retentionPolicyLocked) {
  parent: evidence
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: evidenceRetentionDays
    allowProtectedAppendWrites: false
    allowProtectedAppendWritesAll: false
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in mutableContainerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource deletionLock 'Microsoft.Authorization/locks@2020-05-01' = if (protectFromDeletion) {
  scope: storage
  name: 'evidence-cannot-be-deleted'
  properties: {
    level: 'CanNotDelete'
    notes: 'Holds write-once sign-in evidence for auditors. Remove only with the security team.'
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
