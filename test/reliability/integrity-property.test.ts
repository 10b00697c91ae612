/**
 * The integrity property: over random histories of writes, trims, growths, syncs, crashes and faults, every
 * RestorePoint equals its SourceSnapshot byte for byte, one per sync, and stays unchanged afterwards. The same
 * property run with a deliberately broken copy must find a counterexample, so that its passing means something.
 * The seed is printed as a diagnostic; DISKDELTA_PROPERTY_SEED replays a run, DISKDELTA_PROPERTY_RUNS changes its size.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { useTestApp } from "../support/app";
import { type HistoryTotals, describeHistory, emptyTotals, historyArbitrary, runHistory } from "../support/backup-history";
import { dropLastPageOfEachCopy } from "../support/broken-copy";
import { recordOutcome } from "../support/reliability-report";

const area = "Integrity property";
const seed = Number(process.env.DISKDELTA_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.DISKDELTA_PROPERTY_RUNS ?? 8);

function crashCount(totals: HistoryTotals): number {
  return [...totals.crashes.values()].reduce((a, b) => a + b, 0);
}

function played(totals: HistoryTotals): string {
  return `${totals.histories} histories, ${totals.syncs} syncs, ${crashCount(totals)} crashes, ${totals.faults} injected faults`;
}

describe("integrity property", () => {
  const app = useTestApp();
  let disks = 0;

  it("when random histories of writes, trims, growths, syncs, crashes and faults are played, then every RestorePoint equals its SourceSnapshot and stays unchanged", async (t) => {
    t.diagnostic(`fast-check seed ${seed}: DISKDELTA_PROPERTY_SEED=${seed} replays this run`);
    const totals = emptyTotals();
    const property = fc.asyncProperty(historyArbitrary, (history) => runHistory(app(), history, `prop-${++disks}`, totals));
    let failure: string | undefined;
    try {
      await fc.assert(property, { numRuns, seed, endOnFailure: true });
    } catch (error) {
      failure = (error as Error).message.split("\n").slice(0, 3).join(" ");
      throw error;
    } finally {
      recordOutcome({
        area,
        scenario: `random histories (fast-check, seed ${seed}): 1-4 GiB disks grown up to 8 GiB, writes of 512 B-2 MiB (a quarter at the disk's end), trims, 2-4 syncs each, server or stream copy`,
        runs: totals.syncs,
        faults: `${crashCount(totals)} simulated crashes (${[...totals.crashes].map(([point, n]) => `${point} ×${n}`).join(", ")}); ${totals.faults} injected faults (data-plane 500/503 and resets, compute 429; rates 0-5 %)`,
        result: failure ? `COUNTEREXAMPLE: ${failure}` : `${played(totals)}: ${totals.restorePoints}/${totals.syncs} RestorePoints equal to their SourceSnapshot right after their run; one per sync; earlier ones unchanged at the end`,
      });
    }
  });

  it("when the copy is deliberately broken, then the property finds a counterexample", async () => {
    const totals = emptyTotals();
    const broken = fc.asyncProperty(historyArbitrary, (history) => runHistory(app(), history, `broken-${++disks}`, totals, dropLastPageOfEachCopy));
    const result = await fc.check(broken, { numRuns, seed, endOnFailure: true });
    const history = result.counterexample?.[0];
    const reason = result.errorInstance instanceof Error ? result.errorInstance.message.split("\n")[0] : String(result.errorInstance);
    recordOutcome({
      area,
      scenario: "the same property with a deliberately broken copy (Put Page From URL leaves out the last page of every range)",
      runs: totals.syncs,
      faults: "the broken copy, plus the history's own crashes and faults",
      result: result.failed ? `counterexample after ${result.numRuns} run(s): ${history ? describeHistory(history) : "?"} → ${reason}` : `NOT caught in ${played(totals)}`,
    });
    assert.ok(result.failed, `the broken copy went unnoticed through ${played(totals)}`);
    // Caught either by the structure check before any RestorePoint is recorded, or by comparing bytes afterwards.
    assert.match(reason, /StructureMismatch|differs from its SourceSnapshot/);
  });
});
