// The target region: the storage account of the TargetBlobs (a page blob per ProtectedDisk, its blob snapshots are
// the RestorePoints) and the resource group where restored disks are created (Import needs the disk and the
// storage account in the same region).
param name string
param location string
param tags object
param skuName string
param allowSharedKeyAccess bool
param principalId string
param restoreRoleDefinitionId string

@description('The diskdelta drills role: DR drills restore into this (the target) resource group, read the drill disk back and delete it.')
param drillRoleDefinitionId string
@description('The diskdelta snapshots role: managed copies (replication managed, CopyStart) create, read, share and delete their target-region snapshots in this resource group.')
param snapshotsRoleDefinitionId string
@description('The diskdelta target account role: a restore reads the account\'s region.')
param targetAccountRoleDefinitionId string
@description('Put a CanNotDelete lock on the account so that deleting the environment (azd down) cannot delete the backups.')
param lock bool

// The default container of a ProtectedDisk's TargetBlob (src/domain/model.ts).
var containerName = 'diskdelta'
// Put Page From URL, Put Page, Clear Pages, blob snapshots, listing and deleting them.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    defaultToOAuthAuthentication: true
    accessTier: 'Hot'
  }
}

// Management locks stop deleting the account, not reading or writing its blobs.
resource deleteLock 'Microsoft.Authorization/locks@2020-05-01' = if (lock) {
  name: 'diskdelta-backups'
  scope: account
  properties: {
    level: 'CanNotDelete'
    notes: 'The RestorePoints of diskdelta live here. Remove this lock only to delete the backups on purpose.'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource blobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, storageBlobDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource restore 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, restoreRoleDefinitionId)
  properties: {
    roleDefinitionId: restoreRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource drill 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, drillRoleDefinitionId)
  properties: {
    roleDefinitionId: drillRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource managedCopies 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, snapshotsRoleDefinitionId)
  properties: {
    roleDefinitionId: snapshotsRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource accountReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, targetAccountRoleDefinitionId)
  scope: account
  properties: {
    roleDefinitionId: targetAccountRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
