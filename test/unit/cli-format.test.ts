/** What the CLI shows people: tables, sizes, ages, and each command's text, exactly as printed. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fields,
  formatBytes,
  formatDiskList,
  formatDiskStatus,
  formatProgress,
  formatRestorePoints,
  formatRun,
  formatRuns,
  formatSeconds,
  formatTime,
  formatVerify,
  table,
} from "../../src/cli/format";
import type { ProtectedDiskConfig } from "../../src/domain/model";
import type { RestorePoint, RunView } from "../../src/domain/records";
import type { DiskStatus } from "../../src/engine/status";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const config: ProtectedDiskConfig = {
  diskKey: "0123456789abcdef",
  diskId: "/subscriptions/s1/resourceGroups/rg-prod/providers/Microsoft.Compute/disks/data-01",
  target: { blobEndpoint: "https://backup.blob.core.windows.net", container: "diskdelta", blobName: "data-01-0123456789abcdef.vhd" },
  schedule: "every 4h",
  snapshotMode: "create",
  retention: { keepLast: 14 },
  copyMode: "server",
  replication: "diff",
  enabled: true,
  verifyAfterBackup: false,
};
/** A run as the HTTP API answers it (the CLI reads answers, it does not parse records). */
const run = (fields: Partial<RunView>): RunView => ({
  diskKey: config.diskKey, runId: "r1", trigger: "manual", copyMode: "server", state: "succeeded", startedAt: "2026-01-15T10:00:00.000Z", updatedAt: "2026-01-15T10:00:00.000Z",
  step: 0, cursor: 0, windowsDone: 0, bytesChanged: 0, bytesCopied: 0, bytesCleared: 0, requests: 0, ...fields,
});

describe("table and fields", () => {
  it("when rows have cells of different widths, then columns align two spaces apart without trailing spaces", () => {
    assert.equal(table(["A", "LONG HEADER"], [["wide cell", "x"], ["b", ""]]), ["A          LONG HEADER", "wide cell  x", "b"].join("\n"));
  });

  it("when some fields have no value, then they are left out and labels align", () => {
    assert.equal(fields([["Disk", "d1"], ["Last error", undefined], ["Schedule", "every 4h"], ["Note", ""]]), "Disk      d1\nSchedule  every 4h");
  });
});

describe("units", () => {
  const bytes: [number | undefined, string][] = [[undefined, "-"], [0, "0 B"], [512, "512 B"], [1536, "1.5 KiB"], [3 * MiB + 512, "3.0 MiB"], [16 * GiB + 512, "16.0 GiB"], [4 * 1024 * GiB, "4.0 TiB"]];
  for (const [value, text] of bytes) {
    it(`when ${value} bytes are shown, then they read "${text}"`, () => assert.equal(formatBytes(value), text));
  }

  const seconds: [number | undefined, string][] = [[undefined, "-"], [0, "0s"], [45.4, "45s"], [310, "5m 10s"], [7500, "2h 05m"], [273_600, "3d 04h"], [-5, "0s"]];
  for (const [value, text] of seconds) {
    it(`when ${value} seconds are shown, then they read "${text}"`, () => assert.equal(formatSeconds(value), text));
  }

  it("when a time is shown, then it is UTC to the second, and a missing or odd one is shown as is", () => {
    assert.equal(formatTime("2026-01-15T10:00:00.1234567Z"), "2026-01-15 10:00:00Z");
    assert.equal(formatTime("2026-01-15T11:00:00+01:00"), "2026-01-15 10:00:00Z");
    assert.equal(formatTime(undefined), "-");
    assert.equal(formatTime("soon"), "soon");
  });
});

describe("disk list and status", () => {
  const healthy: DiskStatus = {
    diskKey: config.diskKey,
    diskId: config.diskId,
    config,
    lastRunState: "succeeded",
    lastRestorePoint: { restorePointId: "rp1", sourceSnapshotTime: "2026-01-15T10:00:00Z", createdAt: "2026-01-15T10:01:00Z" },
    rpoSeconds: 310,
    rpoExceeded: false,
  };
  const late: DiskStatus = {
    diskKey: "fedcba9876543210",
    diskId: "/subscriptions/s1/resourceGroups/rg-prod/providers/Microsoft.Compute/disks/logs",
    config: { ...config, diskKey: "fedcba9876543210", enabled: false, schedule: "0 30 2 * * *", rpoAlertMinutes: 60 },
    rpoExceeded: true,
  };

  it("when disks are listed, then each shows its name, schedule, last run, newest RestorePoint and RPO", () => {
    assert.equal(
      formatDiskList({ disks: [healthy, late], invalid: [] }),
      [
        "DISK KEY          DISK               ENABLED  SCHEDULE      LAST RUN   NEWEST RESTORE POINT  RPO",
        "0123456789abcdef  data-01 (rg-prod)  yes      every 4h      succeeded  2026-01-15 10:00:00Z  5m 10s",
        "fedcba9876543210  logs (rg-prod)     no       0 30 2 * * *  never      none                  no RestorePoint yet (LATE: alert after 60 min)",
      ].join("\n"),
    );
  });

  it("when no disk is protected, then the list says how to protect one", () => {
    assert.match(formatDiskList({ disks: [], invalid: [] }), /^No protected disks\. Protect one with: diskdelta protect <diskId> --target-endpoint <url>$/);
  });

  it("when rows cannot be used, then they are listed with their problems", () => {
    const text = formatDiskList({ disks: [healthy], invalid: [{ table: "disks", partitionKey: "bad", rowKey: "config", problems: ["schedule: invalid", "diskId: missing"] }] });
    assert.match(text, /\n\n1 ProtectedDisk row\(s\) cannot be used; fix or delete them in Table Storage:\n {2}disks\/bad\/config: schedule: invalid; diskId: missing$/);
  });

  it("when a disk's status is shown with an active run, then its progress is on one line", () => {
    const text = formatDiskStatus({ ...healthy, activeRun: run({ runId: "r2", state: "copying", bytesCopied: 12 * MiB, requests: 3 }) });
    assert.match(text, /^Disk key {13}0123456789abcdef$/m);
    assert.match(text, /^Retention {12}keep last 14$/m);
    assert.match(text, /^RPO alert {12}off$/m);
    assert.match(text, /^Verify after backup {2}no$/m);
    assert.match(text, /^TargetBlob {11}https:\/\/backup\.blob\.core\.windows\.net\/diskdelta\/data-01-0123456789abcdef\.vhd$/m);
    assert.match(text, /^Active run {11}r2 copying: 12\.0 MiB copied, 3 requests$/m);
    assert.match(text, /^Newest RestorePoint {2}rp1 \(source snapshot 2026-01-15 10:00:00Z\)$/m);
    assert.doesNotMatch(text, /Storage account|Last error/, "unset fields are left out");
  });

  it("when the active run waits for its snapshot's background copy, then status shows how far it is and since when", () => {
    const waiting = run({ runId: "r2", state: "preparing", waitingForSnapshotId: "snap", waitingSince: "2026-01-15T10:00:00.000Z", completionPercent: 40 });
    assert.match(formatDiskStatus({ ...healthy, activeRun: waiting }), /^Active run {11}r2 preparing: waiting for snapshot hydration: 40% \(since 2026-01-15 10:00:00Z\)$/m);
    assert.match(formatRun(waiting), /^BackupRun r2 is still preparing, waiting for snapshot hydration: 40% \(since 2026-01-15 10:00:00Z\)\.$/m);
    assert.equal(formatProgress({ ...waiting, completionPercent: 40 }, waiting), undefined);
    assert.match(formatProgress({ ...waiting, completionPercent: 70 }, waiting) ?? "", /hydration: 70%/);
  });

  it("when the active run waits for its premium TargetBlob's snapshot interval, then status shows until when and since when", () => {
    const waiting = run({ runId: "r3", state: "finalizing", waitingSince: "2026-01-15T10:00:00.000Z", targetSnapshotDueAt: "2026-01-15T10:09:30.000Z" });
    const expected = "waiting for the TargetBlob's snapshot interval: next try 2026-01-15 10:09:30Z \\(since 2026-01-15 10:00:00Z\\)";
    assert.match(formatDiskStatus({ ...healthy, activeRun: waiting }), new RegExp(`^Active run {11}r3 finalizing: ${expected}$`, "m"));
    assert.match(formatRun(waiting), new RegExp(`^BackupRun r3 is still finalizing, ${expected}\\.$`, "m"));
  });
});

describe("runs, RestorePoints and results", () => {
  it("when runs are listed, then each shows its duration, bytes and why it ended as it did", () => {
    const text = formatRuns([
      run({ runId: "r3", state: "failed", endedAt: "2026-01-15T10:00:05Z", error: "[404 ResourceNotFound] disk gone" }),
      run({ runId: "r2", endedAt: "2026-01-15T10:02:30Z", bytesChanged: 3 * MiB, bytesCopied: 3 * MiB, bytesCleared: MiB, requests: 2, fullCopyReason: "first-run" }),
      run({ runId: "r1", state: "copying", trigger: "schedule" }),
    ]);
    assert.deepEqual(text.split("\n"), [
      "RUN ID  TRIGGER   STATE      STARTED               DURATION  CHANGED  COPIED   CLEARED  REQUESTS  NOTE",
      "r3      manual    failed     2026-01-15 10:00:00Z  5s        0 B      0 B      0 B      0         [404 ResourceNotFound] disk gone",
      "r2      manual    succeeded  2026-01-15 10:00:00Z  2m 30s    3.0 MiB  3.0 MiB  1.0 MiB  2         full copy: first-run",
      "r1      schedule  copying    2026-01-15 10:00:00Z  -         0 B      0 B      0 B      0",
    ]);
  });

  it("when there are no runs or RestorePoints, then that is said plainly", () => {
    assert.match(formatRuns([]), /^No BackupRuns yet/);
    assert.equal(formatRestorePoints([]), "No RestorePoints yet.");
  });

  it("when RestorePoints are listed, then each shows whether it was a full copy and what it copied", () => {
    const point: RestorePoint = {
      kind: "blob", diskKey: config.diskKey, restorePointId: "rp1", runId: "r1", diskId: config.diskId, sourceSnapshotId: "snap", sourceSnapshotTime: "2026-01-15T10:00:00Z",
      diskUniqueId: "u", blobBytes: 16 * GiB + 512, targetBlobUrl: "https://b/c/d", targetSnapshot: "t", createdAt: "2026-01-15T10:01:00Z",
      fullCopy: false, bytesChanged: MiB, bytesCopied: MiB, requests: 1, durationMs: 61_000,
    };
    assert.equal(
      formatRestorePoints([point]),
      "RESTORE POINT  SOURCE SNAPSHOT TIME  CREATED               COPY  DISK SIZE  COPIED   DURATION\nrp1            2026-01-15 10:00:00Z  2026-01-15 10:01:00Z  diff  16.0 GiB   1.0 MiB  1m 01s",
    );
  });

  it("when a RestorePoint was found to differ from its source after its backup, then the listing says it is not the disk", () => {
    const point: RestorePoint = {
      kind: "blob", diskKey: config.diskKey, restorePointId: "rp2", runId: "r2", diskId: config.diskId, sourceSnapshotId: "snap", sourceSnapshotTime: "2026-01-15T10:00:00Z",
      diskUniqueId: "u", blobBytes: GiB + 512, targetBlobUrl: "https://b/c/d", targetSnapshot: "t", createdAt: "2026-01-15T10:01:00Z",
      fullCopy: false, bytesChanged: MiB, bytesCopied: MiB, requests: 1, durationMs: 1000, differsFromSource: "2026-01-15T10:02:00.000Z: bytes 0-4194304",
    };
    assert.match(formatRestorePoints([point]), /\n\nRestorePoint rp2 differs from its source snapshot \(2026-01-15T10:02:00.000Z: bytes 0-4194304\): it is not the disk\.$/);
  });

  it("when a waited-for run failed, then the headline says so with the error", () => {
    assert.match(formatRun(run({ state: "failed", error: "snapshot gone", endedAt: "2026-01-15T10:00:09Z" })), /^BackupRun r1 FAILED: snapshot gone\n\n[^]*Duration {2}9s/);
  });

  it("when progress did not change between polls, then no line is printed", () => {
    const first = run({ state: "copying", bytesCopied: MiB });
    assert.equal(formatProgress(first, undefined), "BackupRun r1 copying: 1.0 MiB copied, 0 requests");
    assert.equal(formatProgress({ ...first }, first), undefined);
    assert.equal(formatProgress({ ...first, state: "finalizing" }, first), "BackupRun r1 finalizing: 1.0 MiB copied, 0 requests");
  });

  it("when a RestorePoint differs, then the first differing ranges are listed in bytes", () => {
    const text = formatVerify({ restorePointId: "rp1", equal: false, sourceDigest: "aa", targetDigest: "bb", bytesRead: 8 * MiB, mismatches: [{ start: 4 * MiB, end: 8 * MiB }], basis: "source-snapshot" });
    assert.match(text, /^RestorePoint rp1 DIFFERS from its source snapshot\./);
    assert.match(text, /^Expected digest {6}aa\nRestorePoint digest {2}bb$/m);
    assert.match(text, /START {4}END {6}LENGTH\n4194304 {2}8388608 {2}4\.0 MiB$/);
  });

  it("when a RestorePoint equals its source, then the digest and the bytes read are shown", () => {
    assert.equal(
      formatVerify({ restorePointId: "rp1", equal: true, sourceDigest: "aa", targetDigest: "aa", bytesRead: 512, mismatches: [], basis: "source-snapshot" }),
      "RestorePoint rp1 equals its source snapshot.\n\nDigest      aa\nBytes read  512 B",
    );
  });

  it("when a RestorePoint was checked against recorded checksums, then the text says so", () => {
    const text = formatVerify({ restorePointId: "rp1", equal: true, sourceDigest: "aa", targetDigest: "aa", bytesRead: 512, mismatches: [], basis: "recorded-checksums" });
    assert.match(text, /^RestorePoint rp1 equals the checksums recorded when it was verified after backup \(its source snapshot is gone\)\./);
  });
});
