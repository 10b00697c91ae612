/**
 * Service behaviours a test may switch while the stack runs: the Get Page Ranges answer cap, the compute
 * throttling budgets, and choices the emulator had to make where Azure's behaviour is undocumented. One setting per stack, read at every request by
 * the snapshot data endpoint and the blob proxy alike; the same contract in-process and over HTTP.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { callControlRoute } from "./control-call";
import { EmulatorHttpError } from "./disks/api";
import { readJson, sendJson } from "./disks/http";
import { controlErrors, httpError } from "./error-catalog";
import { answeringJsonErrors } from "./service-errors";
import { armLocation } from "./compute/operations";
import { premiumPageBlobSnapshots } from "../src/domain/page-blob-tiers";
import { policyNames, stackComputeRateLimits, type ComputeRateLimits, type Policy, type PolicyBudget, type WindowSeconds } from "./compute/rate-limits";

/** What the emulated services do, as the handlers read it. */
export interface ServiceBehaviour {
  /** Most ranges (PageRange and ClearRange together) in one Get Page Ranges answer; the service's is 10,000. */
  readonly pageListMaxRanges: number;
  /**
   * Whether a managed-disk diff across a disk growth lists the old VHD footer page as ClearRange. Undocumented:
   * true is the emulator's default, false plays a service that does not list it. Confirm against live Azure.
   */
  readonly listOldFooterAsCleared: boolean;
  /**
   * Calls allowed per compute throttling policy in its 3-minute and 30-minute windows; a call beyond is 429 with
   * Retry-After. Default `stackComputeRateLimits` (100 times `serviceComputeRateLimits`, never reached by tests).
   */
  readonly computeRateLimits: ComputeRateLimits;
  /**
   * Regions that are down (`setRegionOutage`), as ARM names them ("westeurope"): ARM compute calls about their
   * resource groups answer 503, their managed-disk data URLs reset the connection, and Put Page From URL from such a
   * source fails with CannotVerifyCopySource. Empty by default.
   */
  readonly regionsDown: readonly string[];
  /**
   * Seconds that must pass between two snapshots of one page blob in a premium account: a Snapshot Blob sooner is 409
   * SnapshotOperationRateExceeded. Default the service's, ten minutes (`premiumPageBlobSnapshots`); 0 turns it off.
   */
  readonly premiumSnapshotIntervalSeconds: number;
}

/** Whether any of `locations` (any spelling ARM accepts, "West Europe" or "westeurope") is down. */
export function isRegionDown(behaviour: ServiceBehaviour, ...locations: (string | undefined)[]): boolean {
  if (behaviour.regionsDown.length === 0) return false;
  return locations.some((location) => location !== undefined && behaviour.regionsDown.includes(armLocation(location)));
}

/** A resource is in a region that is down when its own location or its resource group's is (see `regionsDown`). */
export type RegionCheck = (resource: { location: string; resourceGroup: string }) => boolean;

/** Budgets for some policies, the others keep theirs; and (tests only) shorter windows, so that they pass within a test. */
export type ComputeRateLimitsUpdate = Partial<Record<Policy, PolicyBudget>> & { windowSeconds?: WindowSeconds };

/** Behaviour at start: any field overrides the default; budgets are given per policy. */
export type BehaviourOptions = Partial<Omit<ServiceBehaviour, "computeRateLimits" | "regionsDown">> & {
  computeRateLimits?: ComputeRateLimitsUpdate;
};

/** The service's own cap on ranges per Get Page Ranges answer (REST reference, version 2020-10-02 and later). */
export const servicePageListMaxRanges = 10_000;

/** Switches service behaviour on a running stack; each change applies to requests that start after it. */
export interface BehaviourControl {
  /** Sets the cap on ranges per Get Page Ranges answer (data endpoint and target storage); a positive integer. */
  setPageListMaxRanges(n: number): Promise<void>;
  /** Sets whether a diff across a disk growth lists the old footer page as ClearRange. */
  setListOldFooterAsCleared(on: boolean): Promise<void>;
  /**
   * Sets the compute throttling budgets of the named policies (`[threeMinutes, thirtyMinutes]`, positive integers);
   * calls already counted stay in their windows.
   */
  setComputeRateLimits(limits: ComputeRateLimitsUpdate): Promise<void>;
  /**
   * Takes a region down (`down` true) or brings it back: what an outage of that region does to ARM compute, the
   * managed-disk data URLs and Put Page From URL (see `ServiceBehaviour.regionsDown`). The other regions keep working.
   */
  setRegionOutage(location: string, down: boolean): Promise<void>;
  /** Sets the seconds between two snapshots of one premium page blob (see `ServiceBehaviour.premiumSnapshotIntervalSeconds`). */
  setPremiumSnapshotIntervalSeconds(seconds: number): Promise<void>;
}

const budget = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const budgetPair = z.tuple([budget, budget]);
const policyBudgets = Object.fromEntries(policyNames.map((p) => [p, budgetPair.optional()])) as Record<Policy, z.ZodOptional<typeof budgetPair>>;

const behaviourUpdateSchema = z.strictObject({
  pageListMaxRanges: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  listOldFooterAsCleared: z.boolean().optional(),
  computeRateLimits: z
    .strictObject({ ...policyBudgets, windowSeconds: budgetPair.refine(([short, long]) => short <= long, "the short window cannot be longer than the long one").optional() })
    .optional(),
  regionOutage: z.strictObject({ location: z.string().trim().min(1), down: z.boolean() }).optional(),
  premiumSnapshotIntervalSeconds: z.number().int().min(0).max(86_400).optional(),
});

type BehaviourUpdate = z.infer<typeof behaviourUpdateSchema>;

/** The stack's live behaviour settings: handlers read the fields, controls change them. */
export class BehaviourSettings implements ServiceBehaviour, BehaviourControl {
  private current: ServiceBehaviour;

  /** Starts from the service's behaviour, with any field of `initial` overriding it (validated like a change). */
  constructor(initial: BehaviourOptions = {}) {
    this.current = {
      pageListMaxRanges: servicePageListMaxRanges,
      listOldFooterAsCleared: true,
      computeRateLimits: stackComputeRateLimits,
      regionsDown: [],
      premiumSnapshotIntervalSeconds: premiumPageBlobSnapshots.intervalSeconds,
    };
    this.apply(initial);
  }

  get pageListMaxRanges(): number {
    return this.current.pageListMaxRanges;
  }

  get listOldFooterAsCleared(): boolean {
    return this.current.listOldFooterAsCleared;
  }

  get computeRateLimits(): ComputeRateLimits {
    return this.current.computeRateLimits;
  }

  get regionsDown(): readonly string[] {
    return this.current.regionsDown;
  }

  get premiumSnapshotIntervalSeconds(): number {
    return this.current.premiumSnapshotIntervalSeconds;
  }

  async setPageListMaxRanges(n: number): Promise<void> {
    this.apply({ pageListMaxRanges: n });
  }

  async setListOldFooterAsCleared(on: boolean): Promise<void> {
    this.apply({ listOldFooterAsCleared: on });
  }

  async setComputeRateLimits(limits: ComputeRateLimitsUpdate): Promise<void> {
    this.apply({ computeRateLimits: limits });
  }

  async setRegionOutage(location: string, down: boolean): Promise<void> {
    this.apply({ regionOutage: { location, down } });
  }

  async setPremiumSnapshotIntervalSeconds(seconds: number): Promise<void> {
    this.apply({ premiumSnapshotIntervalSeconds: seconds });
  }

  /** Validates and applies a partial change; throws EmulatorHttpError(400) listing every problem, changing nothing. */
  apply(update: unknown): void {
    const parsed = behaviourUpdateSchema.safeParse(update);
    if (!parsed.success) throw new EmulatorHttpError(400, "InvalidBehaviour", z.prettifyError(parsed.error));
    const { computeRateLimits, regionOutage, ...rest } = parsed.data;
    this.current = {
      ...this.current,
      ...definedFields(rest),
      // Budgets merge per policy, so a test can lower one policy and leave the others alone.
      computeRateLimits: { ...this.current.computeRateLimits, ...computeRateLimits },
      regionsDown: regionOutage ? withRegion(this.current.regionsDown, regionOutage) : this.current.regionsDown,
    };
  }
}

function withRegion(down: readonly string[], { location, down: isDown }: { location: string; down: boolean }): string[] {
  const region = armLocation(location);
  const others = down.filter((r) => r !== region);
  return isDown ? [...others, region] : others;
}

function definedFields(update: Omit<BehaviourUpdate, "computeRateLimits" | "regionOutage">): Partial<ServiceBehaviour> {
  return Object.fromEntries(Object.entries(update).filter(([, value]) => value !== undefined));
}

/** Path of the behaviour control route; like every `/_emulator/` route it bypasses fault injection. */
export const behaviourRoute = "/_emulator/behaviour";

/**
 * Serves `PATCH /_emulator/behaviour` (body: any of `{ pageListMaxRanges, listOldFooterAsCleared,
 * computeRateLimits: { <policy>: [threeMinutes, thirtyMinutes] }, regionOutage: { location, down },
 * premiumSnapshotIntervalSeconds }`, answer 204;
 * 400 `InvalidBehaviour` with every issue) and `GET /_emulator/behaviour` (the page-list cap and footer switch). Returns false
 * for any other path.
 */
export async function handleBehaviourRoute(req: IncomingMessage, res: ServerResponse, settings: BehaviourSettings): Promise<boolean> {
  if ((req.url ?? "").split("?", 1)[0] !== behaviourRoute) return false;
  await answeringJsonErrors(res, async () => {
    if (req.method === "PATCH") {
      settings.apply((await readJson(req)) ?? {});
      res.writeHead(204).end();
    } else if (req.method === "GET") {
      // The throttling budgets are left out: existing readers compare this answer whole, and the budgets show in
      // every compute answer's x-ms-ratelimit-remaining-resource anyway.
      const { pageListMaxRanges, listOldFooterAsCleared } = settings;
      sendJson(res, 200, { pageListMaxRanges, listOldFooterAsCleared });
    } else {
      throw httpError(controlErrors.methodNotAllowed(req.method, behaviourRoute));
    }
  });
  return true;
}

/** BehaviourControl for another process: talks to the behaviour route of a running stack. */
export class BehaviourControlClient implements BehaviourControl {
  /** `baseUrl` is the stack's HTTPS endpoint. */
  constructor(private readonly baseUrl: string) {}

  async setPageListMaxRanges(n: number): Promise<void> {
    await this.change({ pageListMaxRanges: n });
  }

  async setListOldFooterAsCleared(on: boolean): Promise<void> {
    await this.change({ listOldFooterAsCleared: on });
  }

  async setComputeRateLimits(limits: ComputeRateLimitsUpdate): Promise<void> {
    await this.change({ computeRateLimits: limits });
  }

  async setRegionOutage(location: string, down: boolean): Promise<void> {
    await this.change({ regionOutage: { location, down } });
  }

  async setPremiumSnapshotIntervalSeconds(seconds: number): Promise<void> {
    await this.change({ premiumSnapshotIntervalSeconds: seconds });
  }

  private async change(update: BehaviourOptions | { regionOutage: { location: string; down: boolean } }): Promise<void> {
    await callControlRoute(this.baseUrl, behaviourRoute, {}, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(update),
    });
  }
}
