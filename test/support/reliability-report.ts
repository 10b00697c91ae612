/**
 * Reliability outcomes, one JSON line per scenario, appended to .local/reliability.jsonl as the reliability tests
 * run; `npm run reliability:report` runs them and turns the lines into docs/reliability.md. Rows are written by
 * the tests from what they observed, never by hand.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** One scenario's outcome as observed by its test. */
export interface ReliabilityOutcome {
  readonly area: string;
  readonly scenario: string;
  /** BackupRuns started in the scenario. */
  readonly runs: number;
  /** What was injected: crashes, duplicate deliveries, HTTP faults by kind, bad inputs, … */
  readonly faults: string;
  /** What the test checked and found, e.g. "3/3 RestorePoints verified; no duplicate". */
  readonly result: string;
}

export const reliabilityReportPath = resolve(process.env.DISKDELTA_RELIABILITY_REPORT ?? ".local/reliability.jsonl");

export function recordOutcome(outcome: ReliabilityOutcome): void {
  mkdirSync(dirname(reliabilityReportPath), { recursive: true });
  appendFileSync(reliabilityReportPath, `${JSON.stringify({ ...outcome, at: new Date().toISOString() })}\n`);
}
