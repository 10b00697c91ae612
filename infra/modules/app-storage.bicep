// App storage: the Functions host (identity-based AzureWebJobsStorage, deployment package) and diskdelta's CopyStep
// chain (queues, each with the poison queue the host moves a message to after maxDequeueCount) and records (tables).
// Shared Key is off: everything authenticates with the app's identity.
param name string
param location string
param tags object
param deploymentContainerName string
param principalId string

// src/domain/messages.ts (queueNames) and src/adapters/tables/index.ts (tableNames).
var queueNames = ['run-starts', 'copy-steps', 'run-finalizations', 'restore-point-verifications', 'restores', 'drills', 'managed-copies', 'schedule-pages']
var tableNames = ['diskdeltaDisks', 'diskdeltaRuns', 'diskdeltaRestorePoints', 'diskdeltaRestores', 'diskdeltaDrills', 'diskdeltaCopySlots', 'diskdeltaVerifications']

var roles = {
  // The host keeps leases, timer schedule monitors and the deployment package in blobs.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Queue triggers read and delete messages and write poison messages; diskdelta sends the chain's messages.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // ProtectedDisk, BackupRun and RestorePoint records.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in concat(queueNames, map(queueNames, q => '${q}-poison')): {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    name: guid(account.id, principalId, role.value)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
