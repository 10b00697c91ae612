/** ProtectedDisk input and updates, disk ids and keys, run and RestorePoint ids, queue messages. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  diskKeyOf,
  isActive,
  leaseIdOf,
  newRunId,
  parseDiskId,
  protectedDiskInputSchema,
  protectedDiskUpdateSchema,
  restorePointIdOf,
  toProtectedDisk,
} from "../../src/domain/model";
import { copyStepMessageSchema, runStartMessageSchema } from "../../src/domain/messages";

const diskId = "/subscriptions/0000-1111/resourceGroups/rg-prod/providers/Microsoft.Compute/disks/data-01";
const target = { blobEndpoint: "https://backupweu.blob.core.windows.net" };

/** The problems zod reports, as "path: message". */
function problemsOf(result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  return result.success ? [] : result.error!.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("protectedDiskInputSchema", () => {
  it("when only the disk and the target endpoint are given, then every default is filled in", () => {
    assert.deepEqual(protectedDiskInputSchema.parse({ diskId, target }), {
      diskId,
      target: { blobEndpoint: target.blobEndpoint, container: "diskdelta" },
      schedule: "every 4h",
      snapshotMode: "create",
      retention: { keepLast: 14 },
      copyMode: "server",
      replication: "diff",
      enabled: true,
      verifyAfterBackup: false,
    });
  });

  it("when the endpoint ends with slashes and the disk id with spaces, then both are normalised", () => {
    const parsed = protectedDiskInputSchema.parse({ diskId: `  ${diskId} `, target: { blobEndpoint: `${target.blobEndpoint}//` } });
    assert.equal(parsed.diskId, diskId);
    assert.equal(parsed.target.blobEndpoint, target.blobEndpoint);
  });

  const refused: { name: string; body: unknown; problems: RegExp[] }[] = [
    { name: "when the id is of a snapshot, not a disk, then it is refused", body: { diskId: diskId.replace("/disks/", "/snapshots/"), target }, problems: [/^diskId: must be a managed disk resource id/] },
    { name: "when the id has no resource group, then it is refused", body: { diskId: "/subscriptions/s/providers/Microsoft.Compute/disks/d", target }, problems: [/^diskId: /] },
    { name: "when the id is a bare name, then it is refused", body: { diskId: "data-01", target }, problems: [/^diskId: /] },
    { name: "when the container has capitals, then it is refused", body: { diskId, target: { ...target, container: "Backups" } }, problems: [/^target\.container: must be a valid container name/] },
    { name: "when the container has a double dash, then it is refused", body: { diskId, target: { ...target, container: "back--ups" } }, problems: [/^target\.container: /] },
    { name: "when the container is too short, then it is refused", body: { diskId, target: { ...target, container: "ab" } }, problems: [/^target\.container: /] },
    { name: "when the endpoint is http, then it is refused", body: { diskId, target: { blobEndpoint: "http://backupweu.blob.core.windows.net" } }, problems: [/^target\.blobEndpoint: must be the https blob endpoint/] },
    { name: "when the endpoint is not a URL, then it is refused", body: { diskId, target: { blobEndpoint: "backupweu" } }, problems: [/^target\.blobEndpoint: /] },
    ...["?sv=2022-11-02&sig=s3cr3t", "/?", "#frag"].map((tail) => ({
      name: `when the endpoint carries "${tail}", then it is refused: what it carries would be stored and shown`,
      body: { diskId, target: { blobEndpoint: `${target.blobEndpoint}${tail}` } },
      problems: [/^target\.blobEndpoint: must be the blob endpoint alone, without a SAS or other query/],
    })),
    {
      name: "when the endpoint carries user:password@, then it is refused",
      body: { diskId, target: { blobEndpoint: "https://ops:s3cr3t@backupweu.blob.core.windows.net" } },
      problems: [/^target\.blobEndpoint: must be the blob endpoint alone/],
    },
    ...["data.vhd.manifests/x.json", "data.vhd.checksums/1.json", "a/data.vhd.restores/s/r", "data.vhd.gueststate/1.vmgs"].map((blobName) => ({
      name: `when the blob name "${blobName}" lies in another TargetBlob's sidecar folder, then it is refused`,
      body: { diskId, target: { ...target, blobName } },
      problems: [/^target\.blobName: must not lie in the folders diskdelta keeps beside a TargetBlob/],
    })),
    { name: "when the target is missing, then it is refused", body: { diskId }, problems: [/^target: /] },
    { name: "when the body has an unknown field, then it is refused by name", body: { diskId, target, schedul: "every 1h" }, problems: [/^: Unrecognized key: "schedul"/] },
    { name: "when the target has an unknown field, then it is refused by name", body: { diskId, target: { ...target, containr: "x" } }, problems: [/^target: Unrecognized key: "containr"/] },
    { name: "when the schedule is invalid, then the schedule's problem is reported", body: { diskId, target, schedule: "every 0m" }, problems: [/^schedule: the interval must be at least 1/] },
    { name: "when retention keeps no RestorePoint, then it is refused", body: { diskId, target, retention: { keepLast: 0 } }, problems: [/^retention\.keepLast: /] },
    {
      name: "when retention is an empty object, then it is refused naming retention and the ways to say it",
      body: { diskId, target, retention: {} },
      problems: [/^retention: no rule given: give keepLast and\/or maxAgeDays, or keepAll: true/],
    },
    { name: "when keepAll comes with a rule, then it is refused: keepAll excludes the rules", body: { diskId, target, retention: { keepAll: true, keepLast: 3 } }, problems: [/^retention: keepAll: true excludes keepLast and maxAgeDays/] },
    { name: "when keepAll is false, then it is refused: rules say what to remove", body: { diskId, target, retention: { keepAll: false } }, problems: [/^retention\.keepAll: keepAll can only be true/] },
    { name: "when the modes are unknown, then both are refused", body: { diskId, target, snapshotMode: "copy", copyMode: "fast" }, problems: [/^snapshotMode: /, /^copyMode: /] },
    { name: "when the RPO alert is not a positive integer, then it is refused", body: { diskId, target, rpoAlertMinutes: 0 }, problems: [/^rpoAlertMinutes: /] },
    {
      name: "when several fields are wrong, then every problem is reported together",
      body: { diskId: "nope", target: { blobEndpoint: "http://x", container: "A" }, schedule: "daily" },
      problems: [/^diskId: /, /^target\.blobEndpoint: /, /^target\.container: /, /^schedule: /],
    },
  ];
  for (const c of refused) {
    it(c.name, () => {
      const problems = problemsOf(protectedDiskInputSchema.safeParse(c.body));
      assert.equal(problems.length, c.problems.length, problems.join("\n"));
      c.problems.forEach((pattern, i) => assert.match(problems[i], pattern));
    });
  }
});

describe("toProtectedDisk", () => {
  it("when no blob name is given, then the TargetBlob is named after the disk and its key", () => {
    const disk = toProtectedDisk(protectedDiskInputSchema.parse({ diskId, target }));
    assert.equal(disk.diskKey, diskKeyOf(diskId));
    assert.equal(disk.target.blobName, `data-01-${disk.diskKey}.vhd`);
  });

  it("when a blob name is given, then it is kept", () => {
    const disk = toProtectedDisk(protectedDiskInputSchema.parse({ diskId, target: { ...target, blobName: "vm1/os.vhd" } }));
    assert.equal(disk.target.blobName, "vm1/os.vhd");
  });
});

describe("protectedDiskUpdateSchema", () => {
  const cases: { name: string; body: unknown; problems: RegExp[] }[] = [
    { name: "when nothing is changed, then the update is empty", body: {}, problems: [] },
    { name: "when a valid schedule and retention are given, then they are accepted", body: { schedule: "0 0 2 * * *", retention: { maxAgeDays: 30 } }, problems: [] },
    { name: "when the schedule is invalid, then it is refused as on protect", body: { schedule: "every 0m" }, problems: [/^schedule: the interval must be at least 1/] },
    { name: "when the schedule is not a schedule at all, then it is refused", body: { schedule: "garbage" }, problems: [/^schedule: expected "every <n>m\|h\|d"/] },
    { name: "when the disk id is sent, then it is refused: a disk id never changes", body: { diskId }, problems: [/^: Unrecognized key: "diskId"/] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(protectedDiskUpdateSchema.safeParse(c.body));
      assert.equal(problems.length, c.problems.length, problems.join("\n"));
      c.problems.forEach((pattern, i) => assert.match(problems[i], pattern));
    });
  }

  it("when retention says keepAll: true, then it is accepted as keep-everything, on protect and on update", () => {
    assert.deepEqual(protectedDiskInputSchema.parse({ diskId, target, retention: { keepAll: true } }).retention, { keepAll: true });
    assert.deepEqual(protectedDiskUpdateSchema.parse({ retention: { keepAll: true } }), { retention: { keepAll: true } });
  });

  it("when an update's retention is empty, then it is refused as on protect", () => {
    assert.match(problemsOf(protectedDiskUpdateSchema.safeParse({ retention: {} })).join("\n"), /^retention: no rule given/);
  });

  it("when an update leaves fields out, then it fills in no defaults", () => {
    assert.deepEqual(protectedDiskUpdateSchema.parse({ enabled: false }), { enabled: false });
  });
});

describe("disk ids and keys", () => {
  it("when a disk id is parsed, then its parts come back", () => {
    assert.deepEqual(parseDiskId(diskId), { id: diskId, subscriptionId: "0000-1111", resourceGroup: "rg-prod", name: "data-01" });
  });

  it("when a disk id differs only in case or surrounding space, then the diskKey is the same", () => {
    const key = diskKeyOf(diskId);
    assert.match(key, /^[0-9a-f]{16}$/);
    assert.equal(diskKeyOf(diskId.toUpperCase()), key);
    assert.equal(diskKeyOf(` ${diskId}\n`), key);
    assert.notEqual(diskKeyOf(diskId.replace("data-01", "data-02")), key);
  });
});

describe("run and RestorePoint ids", () => {
  it("when runs start later, then their ids sort earlier (newest first in Table Storage)", () => {
    const ids = [new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:01Z"), new Date("2030-06-01T00:00:00Z")].map((at) => newRunId(at, "r"));
    assert.deepEqual([...ids].sort(), [...ids].reverse());
    assert.ok(ids.every((id) => /^\d{13}-r$/.test(id)));
  });

  it("when RestorePoint ids are derived, then they sort newest first and are stable per snapshot", () => {
    const older = restorePointIdOf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/a", new Date("2026-01-01T00:00:00Z"));
    const newer = restorePointIdOf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/b", new Date("2026-01-02T00:00:00Z"));
    assert.ok(newer < older);
    assert.equal(restorePointIdOf("/SUBSCRIPTIONS/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/A", new Date("2026-01-01T00:00:00Z")), older);
  });

  it("when a lease id is derived from a run id, then it is a GUID, the same for every delivery of the run and different for another run", () => {
    const id = leaseIdOf("8203837250129-8a426e92");
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(leaseIdOf("8203837250129-8a426e92"), id);
    assert.notEqual(leaseIdOf("8203837250129-8a426e93"), id);
  });

  it("when a run is in any state, then only succeeded and failed are inactive", () => {
    assert.deepEqual(
      (["queued", "preparing", "copying", "finalizing", "succeeded", "failed"] as const).map(isActive),
      [true, true, true, true, false, false],
    );
  });
});

describe("queue messages", () => {
  const step = { v: 1, kind: "copy-step", diskKey: "k", runId: "r", step: 0, cursor: 0, windowBytes: 16 * 1024 * 1024 };
  const cases: { name: string; message: unknown; valid: boolean }[] = [
    { name: "when a copy-step message is well formed, then it is accepted", message: step, valid: true },
    { name: "when a message comes from a newer version, then it is refused rather than guessed", message: { ...step, v: 2 }, valid: false },
    { name: "when a copy-step has a negative cursor, then it is refused", message: { ...step, cursor: -512 }, valid: false },
    { name: "when a copy-step has an extra field, then it is refused", message: { ...step, extra: true }, valid: false },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(copyStepMessageSchema.safeParse(c.message).success, c.valid));
  }

  it("when a run-start message is sent to the copy-step schema, then it is refused by its kind", () => {
    const start = { v: 1, kind: "run-start", diskKey: "k", runId: "r" };
    assert.equal(runStartMessageSchema.safeParse(start).success, true);
    assert.equal(copyStepMessageSchema.safeParse(start).success, false);
  });
});
