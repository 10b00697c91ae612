/**
 * The tuning limits and defaults that are not app settings, in one place: what the engine never goes below or above
 * whatever a setting or a service answer says. Settings and their defaults are in src/config.ts.
 */
import { GiB, MiB, TiB } from "./ranges";

/** How far the diff window adapts (CopyStep): never below a useful request, never above what one answer should cover. */
export const diffWindowLimits = { min: 64 * MiB, max: 1024 * GiB } as const;

/** A ranged read asks for its range's checksum (Get Blob `x-ms-range-get-content-md5`); the service gives one for at most this much. */
export const maxRangeChecksumBytes = 4 * MiB;

/**
 * A range whose bytes do not match the checksum the service sent with them is read this many times in all before
 * the read fails (and the CopyStep's message is redelivered); bytes that do not match are never written.
 */
export const rangeReadTries = 3;

/** Clear Pages is asked for at most this much at a time. */
export const maxClearBytes = TiB;

/** Page range listings (verify, structure check) ask for windows of this size; the service pages within each. */
export const rangeQueryWindowBytes = 64 * GiB;

/** Verify reads and digests allocated data in blocks of this size (a checksum file records it). */
export const verifyBlockBytes = 4 * MiB;

/**
 * A run waiting for its SourceSnapshot's background copy looks again after this long (its run-start message sent
 * again with this visibility delay). Well under `stalledAfterMs`: each look refreshes the record, so the timer's
 * nudge never mistakes a wait for a stall.
 */
export const hydrationRecheckSeconds = 60;

/**
 * A run whose premium TargetBlob refuses its snapshot for the rate (one per DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS)
 * fails after waiting this long, or three intervals if that is longer: a blob that keeps refusing is not waited on forever.
 */
export const targetSnapshotWaitLimitMs = 30 * 60 * 1000;

/** A run whose record has not changed for this long gets its current message queued again (the timer's nudge). */
export const stalledAfterMs = 15 * 60 * 1000;

/** A run that has not moved for this long is presumed lost (its worker died) and is failed so the disk can go on. */
export const abandonedAfterMs = 6 * 3600 * 1000;

/** A claim whose BackupRun record never appeared (the starter died in between) is released after this long. */
export const orphanClaimAfterMs = 10 * 60 * 1000;

/** Seconds between looks at a disk a restore is creating (ARM's own LRO polls suggest a few seconds). */
export const restoreCheckSeconds = 5;

/** How long a restore hold keeps a RestorePoint from retention at most; a hold older than this was left by a crash. */
export const restoreHoldMs = 24 * 3600 * 1000;

/** A drill's compare step reads at most this much of the drill disk (its allocated blocks only); the cursor moves on. */
export const drillWindowBytes = GiB;

/** A drill whose schedule allows an interval of T is reported stale when its last success is older than this many T. */
export const drillStaleIntervals = 2;

/** The largest blob read as a RestorePoint manifest (a few KiB in practice): anything larger is not one. */
export const maxManifestBytes = 1024 * 1024;
