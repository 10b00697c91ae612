// Custom roles with exactly the compute actions diskdelta calls (src/adapters/compute.ts), so that the app's identity
// can take, read, share and delete snapshots of the disks it protects, and create restored disks, and nothing else.
// test/unit/infra-drift.test.ts derives these lists from the SDK calls in compute.ts and fails when they differ.
targetScope = 'subscription'

param environmentName string
param resourceToken string
param sourceSubscriptionId string

// Role names are unique per tenant: the token keeps two environments apart.
var suffix = '${environmentName}-${resourceToken}'

// Snapshots of the source disks: assigned on the source subscription or resource groups.
var snapshotsActions = [
  // getDisk: size, location and uniqueId of the protected disk
  'Microsoft.Compute/disks/read'
  // getVirtualMachine (protect-vm): the VM's attached OS and data disks
  'Microsoft.Compute/virtualMachines/read'
  // createIncrementalSnapshot: creating a snapshot from a disk is checked against read access to the disk's data
  'Microsoft.Compute/disks/beginGetAccess/action'
  // getSnapshot, listDiskSnapshots
  'Microsoft.Compute/snapshots/read'
  // createIncrementalSnapshot (with tags)
  'Microsoft.Compute/snapshots/write'
  // deleteSnapshot: only diskdelta's own, superseded snapshots (tag diskdelta-disk)
  'Microsoft.Compute/snapshots/delete'
  // grantRead: the read SAS behind Get Page Ranges diff and Put Page From URL
  'Microsoft.Compute/snapshots/beginGetAccess/action'
  // revokeAccess
  'Microsoft.Compute/snapshots/endGetAccess/action'
  // polling the long-running operations above (Azure-AsyncOperation .../locations/{region}/diskOperations/{id})
  'Microsoft.Compute/locations/diskOperations/read'
]

// Restored disks: assigned on the restore resource group in the target region.
var restoreActions = [
  // importDisk returns the created disk; restore reports it
  'Microsoft.Compute/disks/read'
  // importDisk: disks.createOrUpdate with createOption Import from a RestorePoint's blob snapshot
  'Microsoft.Compute/disks/write'
  // polling the disk creation
  'Microsoft.Compute/locations/diskOperations/read'
]

// DR drills: restored like a restore (restoreActions) into the drill resource group, read back through the drill
// disk's own export and deleted afterwards. Assigned on the drill resource group only: nothing else is deleted.
var drillActions = [
  // grantDiskRead: the drill disk's read SAS
  'Microsoft.Compute/disks/beginGetAccess/action'
  // revokeDiskAccess
  'Microsoft.Compute/disks/endGetAccess/action'
  // deleteDisk: the drill disk, once its DrillRun ended
  'Microsoft.Compute/disks/delete'
]

// The target storage account's region: a restore compares it with the requested location before it asks for a disk
// (Disk Import needs both in one region). Assigned on the target account only.
var targetAccountActions = [
  // storageAccountLocation: GET of the storage account resource (its location), no keys, no data
  'Microsoft.Storage/storageAccounts/read'
]

resource snapshotsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, suffix, 'diskdelta-snapshots')
  properties: {
    roleName: 'diskdelta snapshots (${suffix})'
    description: 'diskdelta: read protected disks and the VMs they are attached to; create, read, share (read SAS), revoke and delete their incremental snapshots.'
    type: 'customRole'
    permissions: [
      {
        actions: snapshotsActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: union([subscription().id], ['/subscriptions/${sourceSubscriptionId}'])
  }
}

resource restoreRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, suffix, 'diskdelta-restore')
  properties: {
    roleName: 'diskdelta restore (${suffix})'
    description: 'diskdelta: create managed disks by importing a RestorePoint (disk create with Import).'
    type: 'customRole'
    permissions: [
      {
        actions: restoreActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [subscription().id]
  }
}

resource drillRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, suffix, 'diskdelta-drill')
  properties: {
    roleName: 'diskdelta drills (${suffix})'
    description: 'Read back and delete the disks of diskdelta DR drills; assign on the drill resource group together with the restore role.'
    type: 'customRole'
    permissions: [
      {
        actions: drillActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [subscription().id]
  }
}

resource targetAccountRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, suffix, 'diskdelta-target-account')
  properties: {
    roleName: 'diskdelta target account (${suffix})'
    description: 'diskdelta: read the target storage account resource (its region), to refuse a restore into another region before asking for a disk.'
    type: 'customRole'
    permissions: [
      {
        actions: targetAccountActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [subscription().id]
  }
}

output snapshotsRoleDefinitionId string = snapshotsRole.id
output restoreRoleDefinitionId string = restoreRole.id
output drillRoleDefinitionId string = drillRole.id
output targetAccountRoleDefinitionId string = targetAccountRole.id
