/**
 * The integrity property: over random histories of writes, trims, growths, syncs, crashes, faults and incidents
 * (TargetBlob lost, its re-creation failing or crashing, stale writers of an earlier run, a second disk claiming
 * the blob, paged range listings), every RestorePoint equals its SourceSnapshot byte for byte, one per successful
 * sync, and stays unchanged afterwards while its blob snapshot exists. Every incident kind must have happened, so
 * the test cannot quietly stop exercising one. The same property run with a deliberately broken copy must find a
 * counterexample, so that its passing means something. The seed is printed as a diagnostic;
 * DISKDELTA_PROPERTY_SEED replays a run, DISKDELTA_PROPERTY_RUNS changes its size (below the default, incidents
 * are not required to all happen).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { useTestApp } from "../support/app";
import { type HistoryTotals, type IncidentKind, describeHistory, emptyTotals, historyArbitrary, incidentKinds, runHistory } from "../support/backup-history";
import { dropLastPageOfEachCopy } from "../support/broken-copy";
import { recordOutcome } from "../support/reliability-report";

const area = "Integrity property";
const seed = Number(process.env.DISKDELTA_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const defaultRuns = 8;
const numRuns = Number(process.env.DISKDELTA_PROPERTY_RUNS ?? defaultRuns);

function crashCount(totals: HistoryTotals): number {
  return [...totals.crashes.values()].reduce((a, b) => a + b, 0);
}

function played(totals: HistoryTotals): string {
  return `${totals.histories} histories, ${totals.syncs} syncs (${totals.fullCopies} full copies), ${crashCount(totals)} crashes, ${totals.faults} injected faults`;
}

function incidents(totals: HistoryTotals): string {
  const n = (kind: IncidentKind) => totals.incidents.get(kind) ?? 0;
  return [
    `TargetBlob deleted ×${n("target-deleted")}`,
    `re-creating sync failed midway ×${n("recreate-failed")}`,
    `crash after target.create ×${n("crash-after-create")}`,
    `stale writers of the previous run ×${n("stale-copy-steps")} (lease refused every direct write; replays dropped; old-record workers: ${[...totals.staleWorkers].map(([what, k]) => `${what} ×${k}`).join(", ") || "none"})`,
    `second disk refused 409 ×${n("second-disk-refused")}`,
    `histories whose capped Get Page Ranges answers were paged ×${n("paged-answers")} (${totals.pagedListings} listings longer than one answer)`,
  ].join(", ");
}

describe("integrity property", () => {
  const app = useTestApp();
  let disks = 0;

  it("when random histories of writes, trims, growths, syncs, crashes, faults and TargetBlob incidents are played, then every RestorePoint equals its SourceSnapshot and stays unchanged", async (t) => {
    t.diagnostic(`fast-check seed ${seed}: DISKDELTA_PROPERTY_SEED=${seed} replays this run`);
    const totals = emptyTotals();
    const property = fc.asyncProperty(historyArbitrary, (history) => runHistory(app(), history, `prop-${++disks}`, totals));
    let failure: string | undefined;
    try {
      await fc.assert(property, { numRuns, seed, endOnFailure: true, includeErrorInReport: true });
      t.diagnostic(`${played(totals)}; ${incidents(totals)}`);
      if (numRuns >= defaultRuns) {
        const missing = incidentKinds.filter((kind) => !totals.incidents.get(kind));
        assert.deepEqual(missing, [], `incidents that never happened in ${played(totals)}: ${incidents(totals)}`);
      }
    } catch (error) {
      // The first line, the error the history met, and the counterexample.
      const lines = (error as Error).message.split("\n");
      failure = [lines[0], lines.find((line) => line.trim().startsWith("Got ")), lines.find((line) => line.trim().startsWith("Counterexample"))].filter(Boolean).join(" ");
      throw error;
    } finally {
      recordOutcome({
        area,
        scenario: `random histories (fast-check, seed ${seed}): 1-4 GiB disks grown up to 8 GiB, writes of 512 B-2 MiB (a quarter at the disk's end), trims, 2-4 syncs each (one more after a TargetBlob loss), server or stream copy; TargetBlob losses, failing and crashing re-creations, stale writers, second-disk claims, 1-50 ranges per Get Page Ranges answer`,
        runs: totals.syncs + (totals.incidents.get("recreate-failed") ?? 0),
        faults: `${crashCount(totals)} simulated crashes (${[...totals.crashes].map(([point, n]) => `${point} ×${n}`).join(", ")}); ${totals.faults} injected faults (data-plane 500/503 and resets, compute 429; rates 0-5 %); incidents: ${incidents(totals)}`,
        result: failure ? `COUNTEREXAMPLE: ${failure}` : `${played(totals)}: ${totals.restorePoints}/${totals.syncs} RestorePoints equal to their SourceSnapshot right after their run, each a diff or full copy exactly as the TargetBlob's stamp allowed; one per successful sync; earlier ones unchanged at the end unless their TargetBlob was deleted`,
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
