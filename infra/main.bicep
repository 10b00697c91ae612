// diskdelta: the Function App (Flex Consumption) with its app storage, monitoring and alerts in `location`, and the
// TargetBlobs' storage account in `targetLocation`, in a resource group of its own there (a resource group's
// metadata lives in its region: the backups and the restore must not depend on the source region's). The identity
// gets exactly the compute actions the app calls (infra/modules/roles.bicep).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of the Function App, its app storage and monitoring: the region of the disks you protect.')
@metadata({ azd: { type: 'location' } })
param location string

@minLength(1)
@description('Region of the target storage account that receives the copies (and where restored disks are created).')
@metadata({ azd: { type: 'location' } })
param targetLocation string

@description('Subscription that holds the disks to protect; the deployment subscription by default.')
param sourceSubscriptionId string = subscription().subscriptionId

@description('Resource groups (in sourceSubscriptionId) that hold the disks to protect. Empty: the whole subscription.')
param sourceResourceGroupNames array = []

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_RAGRS'])
@description('Redundancy of the target storage account (page blobs need a standard general-purpose v2 account).')
param targetStorageSku string = 'Standard_LRS'

@description('Allow Shared Key on the target account. diskdelta itself never uses keys; see docs/deploy.md (restore).')
param targetAllowSharedKeyAccess bool = false

@description('Lock the target storage account against deletion (recommended: it holds the backups).')
param lockTargetStorage bool = true

@description('App settings that replace the defaults set in infra/modules/function-app.bicep, e.g. { "DISKDELTA_COPY_CONCURRENCY": "16" }. docs/configuration.md lists them.')
param appSettingOverrides object = {}

@minValue(1)
@maxValue(1000)
@description('Most Function App instances at once; each instance runs at most a few CopySteps.')
param maximumInstanceCount int = 40

@description('E-mail address for alerts; empty: alerts fire in the portal only.')
param alertEmailAddress string = ''

@allowed([15, 30, 45, 60, 120, 180, 240, 300, 360])
@description('Minutes without a scheduleBackups invocation before the "scheduler silent" alert fires; also the window of the RPO alert. At least twice the timer period (DISKDELTA_TIMER_SCHEDULE).')
param schedulerSilentMinutes int = 30

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

resource targetRg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}-target'
  location: targetLocation
  tags: tags
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    environmentName: environmentName
    resourceToken: resourceToken
    sourceSubscriptionId: sourceSubscriptionId
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-diskdelta-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module appStorage 'modules/app-storage.bicep' = {
  name: 'app-storage'
  scope: rg
  params: {
    name: 'stapp${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    principalId: identity.outputs.principalId
  }
}

module target 'modules/target.bicep' = {
  name: 'target'
  scope: targetRg
  params: {
    name: 'sttgt${resourceToken}'
    location: targetLocation
    tags: tags
    skuName: targetStorageSku
    allowSharedKeyAccess: targetAllowSharedKeyAccess
    principalId: identity.outputs.principalId
    restoreRoleDefinitionId: roles.outputs.restoreRoleDefinitionId
    drillRoleDefinitionId: roles.outputs.drillRoleDefinitionId
    snapshotsRoleDefinitionId: roles.outputs.snapshotsRoleDefinitionId
    targetAccountRoleDefinitionId: roles.outputs.targetAccountRoleDefinitionId
    lock: lockTargetStorage
  }
}

module sourceAccessSubscription 'modules/source-access-subscription.bicep' = if (empty(sourceResourceGroupNames)) {
  name: 'source-access-subscription'
  scope: subscription(sourceSubscriptionId)
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionId: roles.outputs.snapshotsRoleDefinitionId
  }
}

module sourceAccessResourceGroups 'modules/source-access-resource-group.bicep' = [
  for sourceResourceGroupName in sourceResourceGroupNames: {
    name: 'source-access-${uniqueString(sourceResourceGroupName)}'
    scope: resourceGroup(sourceSubscriptionId, sourceResourceGroupName)
    params: {
      principalId: identity.outputs.principalId
      roleDefinitionId: roles.outputs.snapshotsRoleDefinitionId
    }
  }
]

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-diskdelta-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    appStorageName: appStorage.outputs.name
    deploymentContainerUrl: appStorage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    appSettingOverrides: appSettingOverrides
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmailAddress: alertEmailAddress
    schedulerSilentMinutes: schedulerSilentMinutes
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output DISKDELTA_API_URL string = '${functionApp.outputs.url}/api'
output DISKDELTA_TARGET_BLOB_ENDPOINT string = target.outputs.blobEndpoint
output DISKDELTA_TARGET_STORAGE_ACCOUNT_ID string = target.outputs.id
output DISKDELTA_RESTORE_RESOURCE_GROUP string = targetRg.name
output DISKDELTA_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
