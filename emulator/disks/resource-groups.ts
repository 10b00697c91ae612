/**
 * The resource groups of the emulated subscription: which exist, where, with which tags. ARM refuses a disk or
 * snapshot in a group that does not exist (404 ResourceGroupNotFound), so the emulator keeps them; names compare
 * case-insensitively and keep the casing they were created with, as ARM's do.
 */
import { armLocation } from "../compute/operations";
import { EmulatorHttpError } from "./api";

/** A resource group that exists when the emulator starts. */
export interface ResourceGroupSeed {
  readonly name: string;
  readonly location: string;
}

/** A resource group as ARM keeps it. */
export interface ResourceGroupRecord {
  readonly id: string;
  readonly name: string;
  /** Fixed at creation: ARM refuses to move a group. */
  readonly location: string;
  tags?: Record<string, string>;
}

/**
 * The groups the tests, the demo and the bench use today, so a stack started without `resourceGroups` serves them
 * as before groups were checked: source disks in `sourceLocation`, restores and the target account in `targetLocation`.
 */
export function defaultResourceGroups(sourceLocation = "westeurope", targetLocation = "northeurope"): ResourceGroupSeed[] {
  const source = ["rg-app", "rg-diskdelta", "rg-data", "rg-routes", "rg-demo", "rg-bench"];
  const target = ["rg-restore", "rg-cli-restore", "diskdelta-target"];
  return [
    ...source.map((name) => ({ name, location: sourceLocation })),
    ...target.map((name) => ({ name, location: targetLocation })),
  ];
}

/** Creates and lists the subscription's resource groups outside ARM: the same contract in-process and over HTTP. */
export interface ResourceGroupControl {
  /** Creates the group; one that already exists in that location is left as it is (another location: 409). */
  createResourceGroup(group: ResourceGroupSeed): Promise<void>;
  /** The groups, in creation order. */
  listResourceGroups(): Promise<ResourceGroupSeed[]>;
}

export class ResourceGroupStore implements ResourceGroupControl {
  private readonly groups = new Map<string, ResourceGroupRecord>();

  constructor(
    private readonly subscriptionId: string,
    seeds: readonly ResourceGroupSeed[],
  ) {
    for (const seed of seeds) this.createOrUpdate(seed.name, seed.location);
  }

  find(name: string): ResourceGroupRecord | undefined {
    return this.groups.get(name.toLowerCase());
  }

  /** Groups in creation order. */
  list(): ResourceGroupRecord[] {
    return [...this.groups.values()];
  }

  /**
   * Creates the group, or updates the tags of the one that exists (when `tags` is given). A group cannot move:
   * another location is 409 InvalidResourceGroupLocation with ARM's message.
   */
  createOrUpdate(name: string, location: string, tags?: Record<string, string>): { group: ResourceGroupRecord; created: boolean } {
    const existing = this.find(name);
    if (existing) {
      if (armLocation(existing.location) !== armLocation(location)) {
        throw new EmulatorHttpError(
          409,
          "InvalidResourceGroupLocation",
          `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
        );
      }
      if (tags) existing.tags = tags;
      return { group: existing, created: false };
    }
    const group: ResourceGroupRecord = {
      id: `/subscriptions/${this.subscriptionId}/resourceGroups/${name}`,
      name,
      location: armLocation(location),
      ...(tags ? { tags } : {}),
    };
    this.groups.set(name.toLowerCase(), group);
    return { group, created: true };
  }

  delete(name: string): void {
    this.groups.delete(name.toLowerCase());
  }

  async createResourceGroup(group: ResourceGroupSeed): Promise<void> {
    this.createOrUpdate(group.name, group.location);
  }

  async listResourceGroups(): Promise<ResourceGroupSeed[]> {
    return this.list().map(({ name, location }) => ({ name, location }));
  }
}
