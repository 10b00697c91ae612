// The one identity of the app: the Functions host (app storage, deployment package, Application Insights) and
// diskdelta's own calls (compute, target storage, tables, queues) all use it.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
