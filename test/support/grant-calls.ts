/**
 * Counts the Grant Access calls (`POST …/snapshots/<name>/beginGetAccess`) that reach the disk emulator, per
 * snapshot family: the snapshots diskdelta takes of one disk (`<disk>-dd-<runId>`) are that disk's incremental
 * family. The stack's fault injector does the counting: one rule per disk that matches its family's grant calls
 * and injects nothing (0 ms latency), whose `matched` count is read back. While counting, no other faults apply.
 */
import type { FaultRule } from "../../emulator/faults";
import type { LocalStack } from "../../emulator/stack";

/** Grant calls per disk since counting (re)started. */
export interface GrantCalls {
  /** Starts counting from zero. */
  restart(): Promise<void>;
  /** Calls so far on each disk's family, in the order of the disk names given. */
  read(): Promise<number[]>;
  /** Stops counting (removes the rules). */
  stop(): Promise<void>;
}

export async function countGrantCalls(stack: LocalStack, diskNames: readonly string[]): Promise<GrantCalls> {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const rules: FaultRule[] = diskNames.map((name) => ({
    scope: "compute",
    kind: "latency",
    latencyMs: 0,
    rate: 1,
    method: "POST",
    path: `/snapshots/${escape(name.slice(0, 50))}-dd-[^/?]+/beginGetAccess\\b`,
  }));
  const counting: GrantCalls = {
    restart: () => stack.faults.set(rules),
    async read() {
      const stats = await stack.faults.stats();
      return stats.rules.map((rule) => rule.matched);
    },
    stop: () => stack.faults.clear(),
  };
  await counting.restart();
  return counting;
}
