// The diskdelta workbook (per-disk RPO, last runs, throughput), linked to Application Insights. Its content is
// infra/workbook/diskdelta.workbook.json, in the format of the portal's Advanced Editor (Notebook/1.0), with the
// Application Insights resource id written as __APPLICATION_INSIGHTS_ID__ (replaced here).
param location string
param tags object
param applicationInsightsId string

var content = replace(loadTextContent('../workbook/diskdelta.workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsightsId)

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID.
  name: guid(resourceGroup().id, applicationInsightsId, 'diskdelta-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'diskdelta'
    category: 'workbook'
    sourceId: toLower(applicationInsightsId)
    serializedData: content
    version: 'Notebook/1.0'
  }
}

output id string = workbook.id
