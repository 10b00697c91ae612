/**
 * `npm run demo`: the product end to end on the embedded local stack. Boots Azurite and the disk emulator,
 * protects a sparse 32 GiB demo disk through the HTTP API, writes to it like a VM, runs four backups with
 * overwrites, new writes and trims in between, shows progress, and prints a table per RestorePoint. Each
 * RestorePoint is verified against its SourceSnapshot by content digest over the whole disk, and the bytes copied
 * must equal the bytes the demo changed. It ends with a tracked restore of the newest RestorePoint into the target
 * region, whose content digest must equal the RestorePoint's, and a DR drill of it (restore, compare, RTO, drill disk
 * deleted). Exits non-zero if any check fails.
 */
import { ComputeManagementClient } from "@azure/arm-compute";
import { type ByteRange, GiB, MiB, coalesce, totalBytes } from "../src/domain/ranges";
import { diskKeyOf } from "../src/domain/model";
import type { DrillRun, RestorePoint, RunView } from "../src/domain/records";
import { formatDrill, formatDrillProgress } from "../src/cli/format";
import { follow } from "../src/cli/wait";
import { sparseDigest } from "../src/engine/verify";
import { restorePointDigest, verifyRestorePoint } from "../src/engine/verify-restore-point";
import { startLocalStack } from "../emulator/stack";
import { startLocalApp } from "./lib/local-app";

const diskBytes = 32 * GiB;
const resourceGroup = "rg-demo";

/** One round of what the "VM" does between backups, and the bytes it changed. */
interface Round {
  readonly title: string;
  readonly writes: ByteRange[];
  readonly trims: ByteRange[];
}

const rounds: Round[] = [
  {
    title: "initial data: OS area, a data file, a log at the end",
    writes: [r(0, 64 * MiB), ...scatter(1 * GiB, 40, 2 * MiB, 37 * MiB), r(diskBytes - 16 * MiB, 16 * MiB)],
    trims: [],
  },
  {
    title: "overwrites inside the OS area, new data at 20 GiB",
    writes: [r(8 * MiB, 3 * MiB), r(40 * MiB + 512, 4096), ...scatter(20 * GiB, 25, 1 * MiB, 64 * MiB)],
    trims: [],
  },
  {
    title: "trims of deleted files, a few small writes",
    writes: [r(12 * GiB, 512), r(30 * GiB + 7 * 512, 512 * 9)],
    trims: [r(1 * GiB, 2 * MiB), r(20 * GiB, 1 * MiB)],
  },
  { title: "nothing changed", writes: [], trims: [] },
];

function r(start: number, length: number): ByteRange {
  return { start, end: start + length };
}

function scatter(base: number, count: number, length: number, stride: number): ByteRange[] {
  return Array.from({ length: count }, (_, i) => r(base + i * stride, length));
}

function mib(bytes: number): string {
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(2)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}

async function main(): Promise<void> {
  console.log("diskdelta demo: starting the local stack (Azurite + disk emulator)...");
  const managed = process.env.DEMO_REPLICATION === "managed";
  if (process.env.DEMO_REPLICATION !== undefined && !["managed", "diff"].includes(process.env.DEMO_REPLICATION)) {
    throw new Error(`DEMO_REPLICATION must be diff or managed, not ${process.env.DEMO_REPLICATION}`);
  }
  const stack = await startLocalStack();
  // Managed copies are looked at every 60 s in Azure; the local stack's copies take a second or two.
  const app = startLocalApp({ stack, log: () => undefined, queueSettings: { visibilityTimeout: 1 }, settings: { DISKDELTA_MANAGED_COPY_CHECK_SECONDS: "1" } });
  const failures: string[] = [];
  try {
    const apiUrl = await app.host.listen();
    app.host.start();
    const api = async (method: string, path: string, body?: unknown) => {
      const answer = await fetch(`${apiUrl}${path}`, {
        method,
        headers: { "x-functions-key": app.host.functionKey, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await answer.json()) as unknown;
      if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(json)}`);
      return json;
    };

    const compute = new ComputeManagementClient(stack.arm.credential, stack.arm.subscriptionId, { endpoint: stack.arm.endpoint });
    const disk = await compute.disks.createOrUpdate(
      resourceGroup,
      "demo-disk",
      { location: stack.arm.location, diskSizeGB: diskBytes / GiB, creationData: { createOption: "Empty" } },
      { updateIntervalInMs: 10 },
    );
    const diskId = disk.id!;
    console.log(`created ${diskId} (${diskBytes / GiB} GiB, sparse)`);
    await api("POST", "/disks", {
      diskId,
      target: { blobEndpoint: stack.target.blobEndpoint, container: "backups", storageAccountId: stack.target.resourceId },
      schedule: "every 4h",
      retention: { keepLast: 10 },
      ...(managed ? { replication: "managed", managedTarget: { resourceGroup: "diskdelta-target", location: stack.target.location } } : {}),
    });
    const diskKey = diskKeyOf(diskId);
    console.log(managed
      ? `protected as ${diskKey}; replication managed: Azure's CopyStart into diskdelta-target (${stack.target.location})\n`
      : `protected as ${diskKey}; target ${stack.target.blobEndpoint}/backups\n`);

    const rows: { point: RestorePoint; run: RunView; expected: number; verified: boolean; digest: string }[] = [];
    let seed = 1;
    for (const [index, round] of rounds.entries()) {
      for (const write of round.writes) stack.disks.writeSeeded(diskId, write.start, write.end - write.start, seed++);
      for (const trim of round.trims) stack.disks.trim(diskId, trim.start, trim.end - trim.start);
      const expected = index === 0 ? totalBytes(coalesce(round.writes)) + 512 : totalBytes(coalesce(round.writes));
      console.log(`backup ${index + 1}: ${round.title}`);
      const { runId } = (await api("POST", `/disks/${diskKey}/sync`)) as { runId: string };
      const run = await waitForRun(api, diskKey, runId);
      if (run.state !== "succeeded") {
        failures.push(`backup ${index + 1} ended ${run.state}: ${run.error ?? ""}`);
        continue;
      }
      const points = ((await api("GET", `/disks/${diskKey}/restore-points`)) as { restorePoints: RestorePoint[] }).restorePoints;
      const point = points.find((p) => p.runId === runId);
      if (!point) {
        failures.push(`backup ${index + 1} recorded no RestorePoint`);
        continue;
      }
      const check = await verifyRestorePoint(app.deps, point);
      if (!check.equal) failures.push(`RestorePoint ${point.restorePointId} differs from its snapshot at ${JSON.stringify(check.mismatches)}`);
      // A managed copy is Azure's: diskdelta copies nothing itself, so there is no byte count to hold to the writes.
      if (!managed && run.bytesCopied !== expected) failures.push(`backup ${index + 1} copied ${run.bytesCopied} bytes, changed ${expected}`);
      rows.push({ point, run, expected, verified: check.equal, digest: check.targetDigest });
      console.log(`  done: ${mib(run.bytesCopied)} copied in ${run.requests} requests, verified ${check.equal ? "equal" : "DIFFERENT"}\n`);
    }

    // "changed" is the product's own measurement (the diff's changed ranges); the check above held it to the demo's writes.
    console.log("RestorePoint                     changed      copied       cleared    requests  duration  verified");
    for (const { point, run, verified } of rows) {
      console.log(
        [
          point.restorePointId.padEnd(32),
          mib(run.bytesChanged).padStart(11),
          mib(run.bytesCopied).padStart(11),
          mib(run.bytesCleared).padStart(11),
          String(run.requests).padStart(9),
          `${(point.durationMs / 1000).toFixed(2)} s`.padStart(9),
          (verified ? "yes" : "NO").padStart(9),
        ].join("  "),
      );
    }
    const { restorePoints } = (await api("GET", `/disks/${diskKey}/restore-points`)) as { restorePoints: RestorePoint[] };
    if (restorePoints.length !== rows.length) failures.push(`expected ${rows.length} RestorePoints, found ${restorePoints.length}`);
    console.log(`\n${restorePoints.length} RestorePoints of a ${diskBytes / GiB} GiB disk; the full disk was never copied after the first backup${managed ? " (Azure copied the changes: diskdelta moved no bytes itself)" : ""}.`);

    const newest = restorePoints[0];
    if (newest) {
      console.log(`\nrestoring RestorePoint ${newest.restorePointId} as a new disk in ${stack.target.location}...`);
      const accepted = (await api("POST", `/disks/${diskKey}/restore-points/${newest.restorePointId}/restore`, {
        name: "demo-disk-restored", resourceGroup: "rg-restore", location: stack.target.location,
      })) as { restoreId: string };
      const restore = await waitForRestore(api, diskKey, accepted.restoreId);
      if (restore.state !== "succeeded") {
        failures.push(`the restore ended ${restore.state}: ${restore.error ?? ""}`);
      } else {
        // Read back as any client would: a snapshot of the restored disk, through its own read SAS.
        const check = await compute.snapshots.createOrUpdate(
          "rg-restore", "demo-disk-restored-check",
          { location: stack.target.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: restore.newDiskId } },
          { updateIntervalInMs: 10 },
        );
        const sas = await app.deps.compute.grantRead(check.id!, 3600);
        const bytes = newest.blobBytes - 512;
        const [expected, restored] = await Promise.all([
          restorePointDigest(app.deps, newest, "disk"),
          sparseDigest({ sizeBytes: bytes, allocated: (w) => app.deps.source.allocated(sas, w), read: (range) => app.deps.source.read(sas, range) }),
        ]);
        await app.deps.compute.revokeAccess(check.id!);
        const equal = expected.digest === restored.digest;
        if (!equal) failures.push(`the restored disk ${restore.newDiskId} differs from RestorePoint ${newest.restorePointId}`);
        console.log(`  ${restore.newDiskId}\n  created with ${restore.createOption}, content ${equal ? "equal to" : "DIFFERENT from"} the RestorePoint (sha256 ${restored.digest.slice(0, 16)}…)`);
      }
      if (managed) console.log("\n(DR drills compare blob RestorePoints only, for now: no drill in managed mode)");
      else await drill(api, compute, diskKey, stack.target.location, failures);
    }
  } finally {
    await app.stop();
    await stack.stop();
  }
  if (failures.length > 0) {
    console.error(`\nFAILED:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log("All checks passed.");
}

/**
 * A DR drill of the newest RestorePoint: drills switched on for the disk, one run now and followed; it must end
 * equal with an RTO, and leave no drill disk behind.
 */
async function drill(api: (method: string, path: string, body?: unknown) => Promise<unknown>, compute: ComputeManagementClient, diskKey: string, location: string, failures: string[]): Promise<void> {
  console.log(`\nDR drill: restore the newest RestorePoint into rg-restore, read the drill disk back through its own SAS, compare, delete...`);
  await api("PATCH", `/disks/${diskKey}`, { drill: { schedule: "every 7d", resourceGroup: "rg-restore", location } });
  const accepted = (await api("POST", `/disks/${diskKey}/drills`)) as DrillRun;
  const { value: ended } = await follow<DrillRun>(
    {
      fetch: async () => (await api("GET", `/disks/${diskKey}/drills/${accepted.drillId}`)) as DrillRun,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: () => Date.now(),
      onProgress: (next, previous) => {
        const line = formatDrillProgress(next);
        if (!previous || line !== formatDrillProgress(previous)) console.log(`  ${line}`);
      },
    },
    { intervalMs: 200, timeoutMs: 600_000 },
    (d) => d.state === "succeeded" || d.state === "failed",
  );
  console.log(formatDrill(ended).replace(/^/gm, "  "));
  if (ended.state !== "succeeded") failures.push(`the drill ended ${ended.state}: ${ended.state === "failed" ? ended.error : "timed out"}`);
  // The drill deletes its disk right after it records its end (an ARM delete, itself an operation): allow it a moment.
  let left: string[] = [];
  for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
    left = [];
    for await (const disk of compute.disks.listByResourceGroup("rg-restore")) if (disk.tags?.["diskdelta-drill"]) left.push(disk.id ?? "");
    if (left.length === 0 || Date.now() > deadline) break;
  }
  if (left.length > 0) failures.push(`drill disks left behind: ${left.join(", ")}`);
}

/** A tracked restore as the API answers it. */
interface RestoreView {
  readonly state: string;
  readonly newDiskId: string;
  readonly createOption?: string;
  readonly error?: string;
}

async function waitForRestore(api: (method: string, path: string) => Promise<unknown>, diskKey: string, restoreId: string): Promise<RestoreView> {
  let last = "";
  for (;;) {
    const restore = (await api("GET", `/disks/${diskKey}/restores/${restoreId}`)) as RestoreView;
    if (restore.state !== last) console.log(`  ${restore.state}`);
    last = restore.state;
    if (restore.state === "succeeded" || restore.state === "failed") return restore;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitForRun(api: (method: string, path: string) => Promise<unknown>, diskKey: string, runId: string): Promise<RunView> {
  let last = "";
  for (;;) {
    const run = (await api("GET", `/disks/${diskKey}/runs/${runId}`)) as RunView;
    const line = `  ${run.state.padEnd(10)} step ${run.step}  windows ${run.windowsDone}  copied ${mib(run.bytesCopied)}  cleared ${mib(run.bytesCleared)}`;
    if (line !== last) console.log(line);
    last = line;
    if (run.state === "succeeded" || run.state === "failed") return run;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
