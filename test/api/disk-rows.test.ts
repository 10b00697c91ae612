/**
 * ProtectedDisk rows as Table Storage holds them, through the HTTP API: an unusable row is repaired by PATCH or
 * removed by DELETE (the runbook's advice), a row written before `keepAll` existed keeps meaning "keep all", and an
 * empty RetentionPolicy is refused naming the field. Rows are written straight into the table, as an operator's
 * hand edit would write them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diskKeyOf } from "../../src/domain/model";
import { useTestApp } from "../support/app";
import { disksTable } from "../support/raw-input";

type ErrorBody = { error: { code: string; message: string; details?: string[] } };

describe("ProtectedDisk rows through the API", () => {
  const app = useTestApp();
  /** Writes a config row for a new disk id straight into the table; returns its diskKey. */
  const writeRow = async (name: string, columns: Record<string, unknown>): Promise<string> => {
    const { stack } = app();
    const diskId = `/subscriptions/${stack.arm.subscriptionId}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/${name}`;
    const diskKey = diskKeyOf(diskId);
    await disksTable(stack).upsertEntity({ partitionKey: diskKey, rowKey: "config", diskId, targetBlobEndpoint: stack.target.blobEndpoint, targetContainer: "backups", targetBlobName: `${name}.vhd`, schedule: "every 1h", ...columns }, "Replace");
    return diskKey;
  };
  const call = (method: "GET" | "PATCH" | "DELETE" | "POST", path: string, body?: unknown) => app().host.invokeHttp(method, path, body);

  it("when a row has a bad retention and schedule, then PATCH with both repaired makes it usable again, with its other columns kept", async () => {
    const diskKey = await writeRow("row-repair", { retentionKeepLast: -1, schedule: "often", rpoAlertMinutes: 90 });
    const before = await call("GET", `/api/disks/${diskKey}`);
    assert.equal(before.status, 409);
    assert.match((before.body as ErrorBody).error.message, /repair it with PATCH .* or remove it with DELETE/);

    const halfway = await call("PATCH", `/api/disks/${diskKey}`, { retention: { keepLast: 7 } });
    assert.equal(halfway.status, 409, "one bad column is left: nothing is written");
    const halfwayMessage = (halfway.body as ErrorBody).error.message;
    assert.match(halfwayMessage, /schedule: /);
    assert.doesNotMatch(halfwayMessage, /retentionKeepLast/);
    assert.equal((await disksTable(app().stack).getEntity<Record<string, unknown>>(diskKey, "config")).retentionKeepLast, -1);

    const repaired = await call("PATCH", `/api/disks/${diskKey}`, { retention: { keepLast: 7 }, schedule: "every 2h" });
    assert.equal(repaired.status, 200, JSON.stringify(repaired.body));
    const status = await call("GET", `/api/disks/${diskKey}`);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    const { config } = status.body as { config: { retention: unknown; schedule: string; rpoAlertMinutes: number; target: { blobName: string } } };
    assert.deepEqual([config.retention, config.schedule, config.rpoAlertMinutes, config.target.blobName], [{ keepLast: 7 }, "every 2h", 90, "row-repair.vhd"]);
    const listed = (await call("GET", "/api/disks")).body as { invalid: { partitionKey: string }[] };
    assert.ok(!listed.invalid.some((row) => row.partitionKey === diskKey));
  });

  it("when a row's bad column cannot be set by PATCH, then DELETE removes the row and the disk can be protected again", async () => {
    const diskKey = await writeRow("row-remove", { targetBlobEndpoint: "http://insecure.example" });
    assert.equal((await call("PATCH", `/api/disks/${diskKey}`, { enabled: false })).status, 409);
    const removed = await call("DELETE", `/api/disks/${diskKey}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal((await call("GET", `/api/disks/${diskKey}`)).status, 404);
    const listed = (await call("GET", "/api/disks")).body as { invalid: { partitionKey: string }[] };
    assert.ok(!listed.invalid.some((row) => row.partitionKey === diskKey), "the row is gone from the invalid list");
  });

  it("when a stored row has no retention column (written when {} was accepted), then it reads as keep all and PATCH can set rules", async () => {
    const diskKey = await writeRow("row-keep-all", {});
    const status = await call("GET", `/api/disks/${diskKey}`);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.deepEqual((status.body as { config: { retention: unknown } }).config.retention, { keepAll: true });
    const updated = await call("PATCH", `/api/disks/${diskKey}`, { retention: { maxAgeDays: 30 } });
    assert.deepEqual((updated.body as { retention: unknown }).retention, { maxAgeDays: 30 });
    const row = await disksTable(app().stack).getEntity<Record<string, unknown>>(diskKey, "config");
    assert.deepEqual([row.retentionMaxAgeDays, row.retentionKeepAll], [30, undefined]);
  });

  it("when retention is {}, then protect and update answer 400 naming retention; keepAll: true is stored as its own column", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-retention", 1024 ** 3);
    const target = { blobEndpoint: stack.target.blobEndpoint, container: "backups" };
    const refused = await call("POST", "/api/disks", { diskId, target, retention: {} });
    assert.equal(refused.status, 400);
    assert.match((refused.body as ErrorBody).error.details?.join("\n") ?? "", /^retention: no rule given: give keepLast and\/or maxAgeDays, or keepAll: true/m);
    const created = await call("POST", "/api/disks", { diskId, target, retention: { keepAll: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const diskKey = diskKeyOf(diskId);
    assert.equal((await disksTable(stack).getEntity<Record<string, unknown>>(diskKey, "config")).retentionKeepAll, true);
    const update = await call("PATCH", `/api/disks/${diskKey}`, { retention: {} });
    assert.equal(update.status, 400);
    assert.match((update.body as ErrorBody).error.details?.join("\n") ?? "", /^retention: /m);
  });
});
