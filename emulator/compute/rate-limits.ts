/**
 * The `x-ms-ratelimit-remaining-resource` header Microsoft.Compute sends (e.g.
 * `Microsoft.Compute/HighCostSnapshotCreateHydrate3Min;999,Microsoft.Compute/HighCostSnapshotCreateHydrate30Min;7999`):
 * calls left per policy in a 3-minute and a 30-minute window. The emulator counts but never throttles.
 */

/** The throttling policies the disk operations draw on, with their 3-minute and 30-minute budgets. */
export const policies = {
  HighCostSnapshotCreateHydrate: [1000, 8000],
  CreateUpdateDisks: [1000, 8000],
  DeleteDisks: [3000, 24000],
  LowCostGet: [15000, 120000],
  GetOperation: [50000, 400000],
} as const;

export type Policy = keyof typeof policies;

const shortWindowMs = 3 * 60_000;
const longWindowMs = 30 * 60_000;

export class RateLimitCounters {
  private readonly calls = new Map<Policy, number[]>();

  /** Records a call and returns the header value to send with its answer. */
  record(policy: Policy): string {
    const now = Date.now();
    const times = (this.calls.get(policy) ?? []).filter((t) => now - t < longWindowMs);
    times.push(now);
    this.calls.set(policy, times);
    const inShort = times.filter((t) => now - t < shortWindowMs).length;
    const [short, long] = policies[policy];
    return (
      `Microsoft.Compute/${policy}3Min;${Math.max(0, short - inShort)},` +
      `Microsoft.Compute/${policy}30Min;${Math.max(0, long - times.length)}`
    );
  }
}
