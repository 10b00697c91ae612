/**
 * `npm run demo`: the product end to end on the embedded local stack. Boots Azurite and the disk emulator,
 * protects a sparse 32 GiB demo disk through the HTTP API, writes to it like a VM, runs four backups with
 * overwrites, new writes and trims in between, shows progress, and prints a table per RestorePoint. Each
 * RestorePoint is verified against its SourceSnapshot by content digest over the whole disk, and the bytes copied
 * must equal the bytes the demo changed. Exits non-zero if any check fails.
 */
import { ComputeManagementClient } from "@azure/arm-compute";
import { type ByteRange, GiB, MiB, coalesce, totalBytes } from "../src/domain/ranges";
import { diskKeyOf } from "../src/domain/model";
import type { RestorePoint, RunView } from "../src/domain/records";
import { verifyRestorePoint } from "../src/engine/verify-restore-point";
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
  const stack = await startLocalStack();
  const app = startLocalApp({ stack, log: () => undefined, queueSettings: { visibilityTimeout: 1 } });
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
    });
    const diskKey = diskKeyOf(diskId);
    console.log(`protected as ${diskKey}; target ${stack.target.blobEndpoint}/backups\n`);

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
      if (run.bytesCopied !== expected) failures.push(`backup ${index + 1} copied ${run.bytesCopied} bytes, changed ${expected}`);
      rows.push({ point, run, expected, verified: check.equal, digest: check.targetDigest });
      console.log(`  done: ${mib(run.bytesCopied)} copied in ${run.requests} requests, verified ${check.equal ? "equal" : "DIFFERENT"}\n`);
    }

    console.log("RestorePoint                     changed      copied       cleared    requests  duration  verified");
    for (const { point, run, expected, verified } of rows) {
      console.log(
        [
          point.restorePointId.padEnd(32),
          mib(expected).padStart(11),
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
    console.log(`\n${restorePoints.length} RestorePoints of a ${diskBytes / GiB} GiB disk; the full disk was never copied after the first backup.`);
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
