// Log search alerts on Application Insights, built on what diskdelta emits: the metrics of src/host/metrics.ts
// (never sampled) and its structured log lines (a JSON object in `message`), plus the host's own request records of
// the timer (excluded from sampling in host.json). test/unit/infra-drift.test.ts checks that every metric name
// and log message quoted here is one the code still emits.
param location string
param tags object
param resourceToken string
param applicationInsightsId string
param alertEmailAddress string

@allowed([15, 30, 45, 60, 120, 180, 240, 300, 360])
param schedulerSilentMinutes int

// A window as an ISO 8601 duration the alert API accepts (minutes below an hour, whole hours above).
var schedulerWindow = schedulerSilentMinutes < 60 ? 'PT${schedulerSilentMinutes}M' : 'PT${schedulerSilentMinutes / 60}H'
var actionGroups = empty(alertEmailAddress) ? [] : [actionGroup.id]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: 'ag-diskdelta-${resourceToken}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'diskdelta'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

// A BackupRun ended failed: the failure counter, or the "BackupRun failed" log line (either is enough, so a
// failure is seen even if one of the two channels is down).
var runFailedQuery = '''
let failedByMetric = customMetrics
    | where name == "diskdelta.run.failed"
    | project timestamp, diskKey = tostring(customDimensions.diskKey);
let failedByLog = traces
    | where message has "BackupRun failed"
    | extend entry = parse_json(message)
    | where tostring(entry.message) == "BackupRun failed"
    | project timestamp, diskKey = tostring(entry.diskKey);
union failedByMetric, failedByLog
'''

// A ProtectedDisk's RPO is above its rpoAlertMinutes (or it has none yet): the latest rpo_exceeded gauge per disk.
var rpoExceededQuery = '''
customMetrics
| where name == "diskdelta.disk.rpo_exceeded"
| extend diskKey = tostring(customDimensions.diskKey)
| summarize arg_max(timestamp, value) by diskKey
| where value > 0
'''

// The timer stopped: without it no BackupRun starts and no RPO is measured, so the RPO alert would stay silent too.
var schedulerSilentQuery = '''
requests
| where operation_Name == "scheduleBackups"
| summarize ticks = count()
| where ticks == 0
'''

// A DR drill ended failed (its restore failed, the drill disk differs from its RestorePoint, or it was lost).
var drillFailedQuery = '''
customMetrics
| where name == "diskdelta.drill.failed"
| project timestamp, diskKey = tostring(customDimensions.diskKey), vmKey = tostring(customDimensions.vmKey)
'''

// A ProtectedDisk (or a VM set: vmKey) with drills has no successful drill within two of its drill intervals: the
// latest gauge per disk and per VM set.
var drillStaleQuery = '''
customMetrics
| where name == "diskdelta.drill.stale"
| extend diskKey = tostring(customDimensions.diskKey), vmKey = tostring(customDimensions.vmKey)
| summarize arg_max(timestamp, value) by diskKey, vmKey
| where value > 0
'''

resource drillFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-diskdelta-drill-failed-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'diskdelta: a DR drill failed'
    description: 'A DR drill ended failed: its RestorePoint may not restore. See docs/runbook.md, "A drill failed".'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: drillFailedQuery
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'diskKey'
              operator: 'Include'
              values: ['*']
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource drillStale 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-diskdelta-drill-stale-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'diskdelta: DR drill stale'
    description: 'A ProtectedDisk has had no successful DR drill within two of its drill intervals. See docs/runbook.md, "Drill stale".'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: schedulerWindow
    criteria: {
      allOf: [
        {
          query: drillStaleQuery
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'diskKey'
              operator: 'Include'
              values: ['*']
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource runFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-diskdelta-run-failed-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'diskdelta: a BackupRun failed'
    description: 'A BackupRun ended failed. See docs/runbook.md, "A run failed".'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: runFailedQuery
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'diskKey'
              operator: 'Include'
              values: ['*']
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource rpoExceeded 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-diskdelta-rpo-exceeded-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'diskdelta: RPO exceeded'
    description: 'A ProtectedDisk has no RestorePoint newer than its rpoAlertMinutes. See docs/runbook.md, "RPO alert".'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: schedulerWindow
    criteria: {
      allOf: [
        {
          query: rpoExceededQuery
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'diskKey'
              operator: 'Include'
              values: ['*']
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}

resource schedulerSilent 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-diskdelta-scheduler-silent-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'diskdelta: scheduler silent'
    description: 'The scheduleBackups timer has not run. No BackupRun starts and no RPO is measured. See docs/runbook.md, "RPO alert".'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: schedulerWindow
    criteria: {
      allOf: [
        {
          query: schedulerSilentQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroups
    }
  }
}
