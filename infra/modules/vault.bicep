// Key Vault for the one secret the app reads: the approval workflow's trigger URL (its query
// string carries a signature). RBAC only; the app reads it through a Key Vault reference.

@description('Key Vault name (3-24 characters).')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Key Vault references from a function app without a virtual network come from public addresses; access is by Entra RBAC only.
  // checkov:skip=CKV_AZURE_189: public network access stays on because the function app has no virtual network to reach a private endpoint; every read needs an Entra token and the Secrets User role.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
