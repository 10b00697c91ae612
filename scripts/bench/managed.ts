/**
 * Scenario 9: managed copy against diff copy on the same histories. One local stack, two disks written alike (a
 * seed, incremental histories of scattered changes, a fragmented one), each history backed up once per disk: the
 * `diff` disk by diskdelta's CopySteps into its TargetBlob, paced to and limited by the modelled per-blob targets
 * (limits.ts), the `managed` disk by Azure's CopyStart at a stated modelled rate (Azure publishes none), its
 * completionPercent looked at every `managedCheckSeconds`. Per history: the bytes each moved into the target region
 * (diff: what Put Page From URL read for the TargetBlob; managed: what the emulator's copy had to move) and the lag
 * from SourceSnapshot to RestorePoint, which with the schedule interval is the RPO each mode reaches.
 */
import { GiB, MiB } from "../../src/domain/ranges";
import type { RestorePoint } from "../../src/domain/records";
import { type BenchStack, startBenchStack } from "./context";
import type { ChildHandle } from "./ipc";
import { type SeededExtent, layOut, sizeOf } from "./layout";
import { benchLimits, floorMs, pacedWorker } from "./limits";
import { measuredSync } from "./runs";
import type { BenchSizes } from "./sizes";
import type { Expected } from "./throughput";
import type { WorkerCommands } from "./worker";

const diskBytes = 64 * GiB;
/** A resource group of the target region the local stack creates (emulator/disks/resource-groups.ts). */
const managedGroup = "diskdelta-target";

/** One mode's backup of one history. */
export interface ModeRun {
  /** Bytes moved into the target region for this RestorePoint. */
  readonly bytesMoved: number;
  /** SourceSnapshot creation to RestorePoint record (the RPO is the schedule interval plus this). */
  readonly lagMs: number;
  /** The whole BackupRun as the worker timed it (HTTP start to idle queues). */
  readonly wallMs: number;
  /** Byte comparison of the RestorePoint with its SourceSnapshot (undefined: BENCH_VERIFY off). */
  readonly verified?: boolean;
}

/** A diff run: with its page writes, the floor the blob limits set, and the throttling answers it met. */
export interface DiffModeRun extends ModeRun {
  readonly requests: number;
  /** From the first CopyStep's start to the last one's end. */
  readonly copyPhaseMs: number;
  readonly floorMs: number;
  readonly refused: number;
}

/** One history, backed up both ways. */
export interface ManagedHistory {
  readonly name: string;
  readonly changed: Expected;
  readonly diff: DiffModeRun;
  readonly managed: ModeRun;
}

export interface ManagedResult {
  /** The modelled CopyStart rate, bytes per second. */
  readonly copyBytesPerSecond: number;
  /** DISKDELTA_MANAGED_COPY_CHECK_SECONDS of the worker. */
  readonly checkSeconds: number;
  readonly limits: typeof benchLimits;
  readonly histories: ManagedHistory[];
}

/** The histories, in the order they are written: each is one BackupRun per disk. */
function historiesOf(sizes: BenchSizes): { name: string; extents: SeededExtent[] }[] {
  const seed = layOut({ diskBytes, totalBytes: sizes.managedSeedBytes, minBytes: 1 * MiB, maxBytes: 64 * MiB, seed: 41 });
  const incremental = sizes.managedIncrementalBytes.map((bytes, i) => ({
    name: `incremental ${(bytes / MiB).toFixed(0)} MiB`,
    extents: layOut({ diskBytes, totalBytes: bytes, minBytes: 1 * MiB, maxBytes: 8 * MiB, seed: 42 + i }),
  }));
  // Dense, as a busy database file is (≈ 256 KiB of disk per change): the verification reads 4 MiB blocks, not 64 GiB.
  const fragmentedRegion = sizes.managedFragmentedRanges * 256 * 1024;
  const fragmented = layOut({ diskBytes: fragmentedRegion, count: sizes.managedFragmentedRanges, minBytes: 512, maxBytes: 64 * 1024, seed: 49 });
  return [
    { name: `seed ${(sizeOf(seed).bytes / MiB).toFixed(0)} MiB`, extents: seed },
    ...incremental,
    { name: `fragmented ${sizes.managedFragmentedRanges} ranges in ${(fragmentedRegion / MiB).toFixed(0)} MiB`, extents: fragmented },
  ];
}

const lagOf = (point: RestorePoint) => Date.parse(point.createdAt) - Date.parse(point.sourceSnapshotTime);

export async function managedAgainstDiff(sizes: BenchSizes): Promise<ManagedResult> {
  const bench = await startBenchStack("managed");
  try {
    bench.stack.disks.setSnapshotCopyRate(sizes.managedCopyBytesPerSecond);
    const diffDisk = await bench.createDisk("bench-managed-diff", diskBytes);
    const managedDisk = await bench.createDisk("bench-managed-managed", diskBytes);
    const worker = await bench.worker({ ...pacedWorker, DISKDELTA_MANAGED_COPY_CHECK_SECONDS: String(sizes.managedCheckSeconds) });
    const container = "bench-managed";
    const diff = await worker.call("protect", { diskId: diffDisk, blobEndpoint: bench.stack.target.blobEndpoint, container });
    const managed = await worker.call("protect", {
      diskId: managedDisk,
      blobEndpoint: bench.stack.target.blobEndpoint,
      container,
      options: { replication: "managed", managedTarget: { resourceGroup: managedGroup, location: bench.stack.target.location } },
    });
    bench.stack.blobLimits.set(benchLimits);
    const histories: ManagedHistory[] = [];
    for (const history of historiesOf(sizes)) {
      bench.write(diffDisk, history.extents);
      bench.write(managedDisk, history.extents);
      console.log(`bench: managed: ${history.name}, diff then managed`);
      histories.push({
        name: history.name,
        changed: sizeOf(history.extents),
        diff: await diffRun(bench, worker, diff.diskKey, sizes.verify),
        managed: await managedRun(bench, worker, managed.diskKey, sizes.verify),
      });
    }
    bench.stack.blobLimits.set(undefined);
    return { copyBytesPerSecond: sizes.managedCopyBytesPerSecond, checkSeconds: sizes.managedCheckSeconds, limits: benchLimits, histories };
  } finally {
    await bench.stop();
  }
}

async function verified(worker: ChildHandle<WorkerCommands>, diskKey: string, runId: string, verify: boolean): Promise<boolean | undefined> {
  return verify ? (await worker.call("verify", { diskKey, runId })).equal : undefined;
}

async function diffRun(bench: BenchStack, worker: ChildHandle<WorkerCommands>, diskKey: string, verify: boolean): Promise<DiffModeRun> {
  const refusedBefore = bench.stack.blobLimits.counts.refused;
  const measured = await measuredSync(bench, worker, diskKey);
  const { runId, requests } = measured.run;
  const point = await worker.call("restorePoint", { diskKey, runId });
  const bytesMoved = measured.target.copiedBytes;
  return {
    bytesMoved,
    lagMs: lagOf(point),
    wallMs: measured.wallMs,
    requests,
    copyPhaseMs: measured.copyPhaseMs,
    floorMs: floorMs(measured.run.bytesCopied, requests),
    refused: bench.stack.blobLimits.counts.refused - refusedBefore,
    verified: await verified(worker, diskKey, runId, verify),
  };
}

async function managedRun(bench: BenchStack, worker: ChildHandle<WorkerCommands>, diskKey: string, verify: boolean): Promise<ModeRun> {
  const measured = await measuredSync(bench, worker, diskKey);
  const { runId } = measured.run;
  const point = await worker.call("restorePoint", { diskKey, runId });
  if (point.kind !== "managed") throw new Error(`run ${runId} of managed disk ${diskKey} recorded a ${point.kind} RestorePoint`);
  const copy = bench.stack.disks.readSnapshotCopy(point.targetSnapshotId);
  return { bytesMoved: copy.bytesToMove, lagMs: lagOf(point), wallMs: measured.wallMs, verified: await verified(worker, diskKey, runId, verify) };
}
