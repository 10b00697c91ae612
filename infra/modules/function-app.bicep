// The Function App on Flex Consumption (Node 20), running as the user-assigned identity. The app settings below are
// the ones src/config.ts reads plus the host's own; test/unit/settings-drift.test.ts keeps them in step with
// src/config.ts and local.settings.sample.json, and checks that each literal value is the schema's default;
// deployments change values through appSettingOverrides (main.bicep), which the app validates at start-up.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param appStorageName string
param deploymentContainerUrl string
@secure()
param applicationInsightsConnectionString string
param maximumInstanceCount int
@description('Replaces values of appSettings below (operators tune here, not by editing the defaults).')
param appSettingOverrides object

// The ARM endpoint of this cloud, without the trailing slash.
var resourceManager = environment().resourceManager
var armEndpoint = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager

var appSettings = {
  AzureWebJobsStorage__accountName: appStorageName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  DISKDELTA_ARM_ENDPOINT: armEndpoint
  DISKDELTA_TIMER_SCHEDULE: '0 */5 * * * *'
  DISKDELTA_SAS_DURATION_SECONDS: '3600'
  DISKDELTA_STEP_MAX_BYTES: '4294967296'
  DISKDELTA_STEP_MAX_REQUESTS: '8192'
  DISKDELTA_STEP_MAX_SECONDS: '240'
  DISKDELTA_PROGRESS_SECONDS: '5'
  DISKDELTA_DIFF_WINDOW_BYTES: '1073741824'
  DISKDELTA_COPY_CONCURRENCY: '8'
  DISKDELTA_TARGET_BLOB_MIB_PER_SECOND: '60'
  DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND: '500'
  DISKDELTA_TRANSACTION_COST_BYTES: '0'
  DISKDELTA_HYDRATION_TIMEOUT_MINUTES: '1440'
  DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS: '600'
  DISKDELTA_MANAGED_COPY_CHECK_SECONDS: '60'
  DISKDELTA_MANAGED_COPIES_PER_REGION: '100'
  DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES: '2880'
  DISKDELTA_MAX_RUNS_PER_TICK: '50'
  // Keeps the worker's peak RSS under 256 MiB at 200,000 changed ranges (bench/README.md, scenario 5).
  languageWorkers__node__arguments: '--max-old-space-size=160'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'diskdelta' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, appSettingOverrides)
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
