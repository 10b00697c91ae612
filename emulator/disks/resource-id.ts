/** ARM resource ids of disks and snapshots; ARM compares resource groups and names case-insensitively. */

/** The parts of a Microsoft.Compute disk or snapshot resource id. */
export interface ComputeResourceRef {
  subscriptionId: string;
  resourceGroup: string;
  kind: "disks" | "snapshots";
  name: string;
}

const idPattern =
  /^\/?subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/(disks|snapshots)\/([^/]+)$/i;

export function parseResourceId(id: string): ComputeResourceRef | undefined {
  const m = idPattern.exec(id.trim());
  if (!m) return undefined;
  return {
    subscriptionId: m[1],
    resourceGroup: m[2],
    kind: m[3].toLowerCase() as "disks" | "snapshots",
    name: m[4],
  };
}

export function resourceId(ref: ComputeResourceRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/${ref.kind}/${ref.name}`;
}

/** The lookup key: one resource per (group, name) whatever the casing. */
export function resourceKey(resourceGroup: string, name: string): string {
  return `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;
}
