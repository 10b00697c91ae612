/**
 * What the conformance suite creates and deletes, named before anything runs: every resource carries the run's
 * prefix, and a suite can track (and so delete) only what is listed here. Pure: no SDK, no network, so
 * `conformance --live --plan` prints exactly this without calling Azure.
 */
import { randomBytes } from "node:crypto";

/** Where a run puts its resources; in live mode the resource groups and the storage account are given, never made. */
export interface Placement {
  subscriptionId: string;
  source: { resourceGroup: string; location: string };
  target: { resourceGroup: string; location: string; storageAccount: string; blobEndpoint: string };
}

/** A managed disk or snapshot the suite creates, by its ARM id. */
export interface PlannedArmResource {
  kind: "disk" | "snapshot";
  name: string;
  id: string;
}

/** A container or page blob the suite creates in the target account, by its URL. */
export interface PlannedBlobResource {
  kind: "container" | "blob";
  container: string;
  /** The blob's name in its container; the container itself has none. */
  blobName?: string;
  url: string;
}

export type PlannedResource = PlannedArmResource | PlannedBlobResource;

/** Whether a planned resource is an ARM resource (named by id) rather than storage (named by URL). */
export function isArmResource(resource: PlannedResource): resource is PlannedArmResource {
  return resource.kind === "disk" || resource.kind === "snapshot";
}

/** The prefix of one run: lowercase (container names), dated (leftovers show their age), random (runs never clash). */
export function newRunPrefix(now = new Date(), random = randomBytes(3).toString("hex")): string {
  const stamp = now.toISOString().slice(0, 16).replace(/[-:T]/g, "");
  return `ddconf-${stamp}-${random}`;
}

/** A prefix this suite could have made; anything else is refused, so a typo never deletes a stranger's resource. */
export const runPrefixPattern = /^ddconf-\d{12}-[0-9a-f]{6}$/;

function armResource(place: Placement, kind: "disk" | "snapshot", name: string): PlannedArmResource {
  const type = kind === "disk" ? "disks" : "snapshots";
  const id = `/subscriptions/${place.subscriptionId}/resourceGroups/${place.source.resourceGroup}/providers/Microsoft.Compute/${type}/${name}`;
  return { kind, name, id };
}

function containerResource(place: Placement, container: string): PlannedBlobResource {
  return { kind: "container", container, url: `${place.target.blobEndpoint.replace(/\/$/, "")}/${container}` };
}

function blobResource(container: PlannedBlobResource, blobName: string): PlannedBlobResource {
  return { kind: "blob", container: container.container, blobName, url: `${container.url}/${blobName}` };
}

/** The resources of each suite, in the order its tests create them; cleanup deletes them in reverse. */
export function suiteResources(place: Placement, prefix: string) {
  if (!runPrefixPattern.test(prefix)) throw new Error(`conformance run prefix '${prefix}' is not of the form ddconf-<yyyymmddhhmm>-<6 hex>`);
  const container = containerResource(place, prefix);
  return {
    "disk-lifecycle": {
      emptyDisk: armResource(place, "disk", `${prefix}-empty`),
    },
    "snapshot-data": {
      dataDisk: armResource(place, "disk", `${prefix}-data`),
      baseSnapshot: armResource(place, "snapshot", `${prefix}-data-s1`),
      nextSnapshot: armResource(place, "snapshot", `${prefix}-data-s2`),
      container,
      copyBlob: blobResource(container, "copy.vhd"),
    },
  };
}

export type SuiteResources = ReturnType<typeof suiteResources>;
export type SuiteName = keyof SuiteResources;

/** One line of the plan: a create or a delete, with the resource's id or URL. */
export interface PlanStep {
  suite: SuiteName;
  action: "create" | "delete";
  resource: PlannedResource;
}

/** Every step of a run in order: per suite (test files run one at a time, by name), creates then deletes in reverse. */
export function conformancePlan(place: Placement, prefix: string): PlanStep[] {
  const suites = suiteResources(place, prefix);
  return (Object.keys(suites) as SuiteName[]).sort().flatMap((suite) => {
    const resources: PlannedResource[] = Object.values(suites[suite]);
    return [
      ...resources.map((resource) => ({ suite, action: "create" as const, resource })),
      ...[...resources].reverse().map((resource) => ({ suite, action: "delete" as const, resource })),
    ];
  });
}

function where(resource: PlannedResource): string {
  return isArmResource(resource) ? resource.id : resource.url;
}

/** Notes on a delete that the id alone does not say. */
function deleteNote(resource: PlannedResource): string {
  if (isArmResource(resource)) return "  (access revoked first; skipped if already gone)";
  return "  (skipped if already gone)";
}

/** The plan as printed by `conformance --live --plan`. */
export function renderPlan(place: Placement, prefix: string): string {
  const lines = [
    `conformance plan, run prefix ${prefix} (dry run: nothing was sent to Azure)`,
    `subscription ${place.subscriptionId}`,
    `source: resource group ${place.source.resourceGroup} in ${place.source.location} (given; never created or deleted)`,
    `target: resource group ${place.target.resourceGroup} in ${place.target.location}, storage account ` +
      `${place.target.storageAccount} at ${place.target.blobEndpoint} (given; never created or deleted)`,
  ];
  let suite: SuiteName | undefined;
  for (const step of conformancePlan(place, prefix)) {
    if (step.suite !== suite) {
      suite = step.suite;
      lines.push("", `suite ${suite}`);
    }
    const note = step.action === "delete" ? deleteNote(step.resource) : "";
    lines.push(`  ${step.action.padEnd(6)} ${step.resource.kind.padEnd(9)} ${where(step.resource)}${note}`);
  }
  return lines.join("\n") + "\n";
}
