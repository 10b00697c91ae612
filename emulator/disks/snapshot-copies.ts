/**
 * Managed copies (`createOption: CopyStart`): a target-region incremental snapshot whose background copy moves the
 * bytes its source changed since the previous completed copy of the same family into that region (every allocated
 * byte for the first), at a modelled rate, under the service's limits (seed 002, "Copy an incremental snapshot to a
 * new region": 100 in parallel per subscription per target region, one per disk at a time, in creation order).
 *
 * The copy is modelled, not performed: the target shares its source's frozen view, so its content is the source's
 * from the start; what the copy changes over time is what ARM reports (`completionPercent`, `copyCompletionError`)
 * and whether the target may be used (grant, disk create: only at 100).
 */
import { EmulatorHttpError } from "./api";
import type { ExtentMap } from "./extents";

/** `copyCompletionError` as the DiskRP reference (2025-01-02) names its fields. */
export interface CopyCompletionError {
  readonly errorCode: string;
  readonly errorMessage: string;
}

/**
 * Where a copy stands. `copying` carries the bytes moved as of `since` (epoch ms); later bytes follow from the rate.
 * A failed copy keeps the bytes it had moved, so its `completionPercent` stays where it stopped (assumed).
 */
export type CopyPhase =
  | { readonly state: "copying"; readonly movedBytes: number; readonly since: number }
  | { readonly state: "completed"; readonly completedAt: number }
  | { readonly state: "failed"; readonly movedBytes: number; readonly error: CopyCompletionError };

/** The background copy of one CopyStart target snapshot. */
export interface SnapshotCopy {
  /** The source snapshot's resource id, uniqueId and creation time (the order rule compares them). */
  readonly sourceId: string;
  readonly sourceUniqueId: string;
  readonly sourceTimeCreated: number;
  /** The completed copy of the same family in the same region this one moves the changes since; none for the first. */
  readonly baseSnapshotId: string | undefined;
  /** What the copy must move: bytes written since the base's source snapshot (every allocated byte without a base). */
  readonly bytesToMove: number;
  phase: CopyPhase;
}

/** Bytes per second every running copy moves; 0 pauses them, `"instant"` completes them at once. */
export type CopyRate = number | "instant";

/** How the stack models managed copies. */
export interface CopyModel {
  /** The rate at start (default `defaultCopyBytesPerSecond`). */
  readonly bytesPerSecond: CopyRate;
  /** CopyStarts in flight per subscription per target region (the service's limit, 100, by default). */
  readonly maxInFlightPerRegion: number;
}

/** 1 GiB/s: a test's copies of a few MiB finish within one poll. Not the service's (unpublished) speed. */
export const defaultCopyBytesPerSecond = 2 ** 30;
/** The service's documented limit of CopyStarts in parallel per subscription per target region. */
export const serviceMaxCopiesPerRegion = 100;

/** A copy's phase as of `now`: the bytes moved since the last look at `rate`, completed once all have moved. */
export function settledPhase(copy: SnapshotCopy, rate: CopyRate, now: number): CopyPhase {
  const phase = copy.phase;
  if (phase.state !== "copying") return phase;
  const moved = rate === "instant" ? copy.bytesToMove : phase.movedBytes + (rate * Math.max(0, now - phase.since)) / 1000;
  if (moved >= copy.bytesToMove) return { state: "completed", completedAt: now };
  return { state: "copying", movedBytes: moved, since: now };
}

/** Bytes moved so far by a settled copy. */
export function movedBytes(copy: SnapshotCopy): number {
  return copy.phase.state === "completed" ? copy.bytesToMove : Math.floor(copy.phase.movedBytes);
}

/** `completionPercent` of a settled copy: 100 only once completed (a copy at 99.9 % reports 99). */
export function copyPercent(copy: SnapshotCopy): number {
  if (copy.phase.state === "completed") return 100;
  if (copy.bytesToMove === 0) return 0;
  return Math.min(99, Math.floor((copy.phase.movedBytes * 100) / copy.bytesToMove));
}

/**
 * Bytes a copy of `view` must move when the target region already holds the family as of generation `baseGen`:
 * the written (not trimmed) bytes of extents newer than it, or every written byte without a base. Trims move no
 * data (assumed: the service's accounting of cleared pages is not published).
 */
export function bytesChangedSince(view: ExtentMap, sizeBytes: number, baseGen: number | undefined): number {
  let bytes = 0;
  for (const extent of view.overlapping(0, sizeBytes)) {
    if (extent.content.kind === "clear") continue;
    if (baseGen === undefined || extent.gen > baseGen) bytes += extent.end - extent.start;
  }
  return bytes;
}

/** What the control API reports of a copy (`readSnapshotCopy`), so a test can see the bytes a copy moves. */
export interface SnapshotCopyInfo {
  readonly id: string;
  readonly sourceResourceId: string;
  readonly baseSnapshotId: string | undefined;
  readonly state: CopyPhase["state"];
  readonly bytesToMove: number;
  readonly bytesMoved: number;
  readonly completionPercent: number;
  readonly copyCompletionError: CopyCompletionError | undefined;
}

/** Which of the service's CopyStart limits a refusal names (the messages say it in these words). */
export type CopyLimitKind = "region" | "disk" | "order";

/**
 * A CopyStart refused by one of the limits. 409 OperationNotAllowed is assumed: the limits are documented, their
 * answers are not; OperationNotAllowed is the code seen for another CopyStart refusal ("CopyStart creation is not
 * supported for this subscription", azure-cli#20201). The messages keep the phrases `maxCopiesInFlight`,
 * `oneCopyPerDisk` and `copyOrder` so a client can tell the limits apart (src/adapters/compute.ts reads them).
 */
export function copyLimitRefusal(kind: CopyLimitKind, detail: string): EmulatorHttpError {
  const phrase = { region: "maxCopiesInFlight", disk: "oneCopyPerDisk", order: "copyOrder" }[kind];
  return new EmulatorHttpError(409, "OperationNotAllowed", `CopyStart refused (${phrase}): ${detail}`);
}
