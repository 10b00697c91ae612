/**
 * The HTTP API's answers to good and bad requests, and the timer's handling of due disks and unusable rows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TableClient } from "@azure/data-tables";
import { tableNames } from "../../src/adapters/tables";
import { scheduleDueBackups } from "../../src/engine/scheduler";
import { GiB, MiB, useTestApp } from "../support/app";

type ErrorBody = { error: { code: string; message: string; details?: string[] } };

describe("HTTP API and timer", () => {
  const app = useTestApp();
  const call = (method: string, path: string, body?: unknown) => app().host.invokeHttp(method, path, body);

  it("when a protect body has wrong types or unknown fields, then 400 names each field", async () => {
    const answer = await call("POST", "/api/disks", { diskId: 42, target: { blobEndpoint: "http://insecure", container: "UPPER" }, extra: true });
    assert.equal(answer.status, 400);
    const body = answer.body as ErrorBody;
    assert.equal(body.error.code, "InvalidRequest");
    const details = body.error.details?.join("\n") ?? "";
    for (const field of ["diskId", "target.blobEndpoint", "target.container", "extra"]) assert.match(details, new RegExp(field.replace(".", "\\.")));
  });

  it("when a body is not JSON or is oversized, then 400 and 413 explain why", async () => {
    assert.equal((await call("POST", "/api/disks", "{not json")).status, 400);
    const big = { diskId: "x".repeat(70 * 1024) };
    const answer = await call("POST", "/api/disks", big);
    assert.equal(answer.status, 413);
    assert.equal((answer.body as ErrorBody).error.code, "BodyTooLarge");
  });

  it("when a schedule is not a valid NCRONTAB or interval, then 400 says what is expected", async () => {
    const diskId = await app().createDisk("disk-bad-schedule", 1 * GiB);
    const answer = await call("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint }, schedule: "0 0 * * *" });
    assert.equal(answer.status, 400);
    assert.match((answer.body as ErrorBody).error.message, /schedule: .*6 fields/);
  });

  it("when a disk is protected twice, then the second answer is 409 with the disk key", async () => {
    const diskId = await app().createDisk("disk-twice", 1 * GiB);
    const diskKey = await app().protect(diskId);
    const again = await call("POST", "/api/disks", { diskId, target: { blobEndpoint: app().stack.target.blobEndpoint } });
    assert.equal(again.status, 409);
    assert.match((again.body as ErrorBody).error.message, new RegExp(diskKey));
  });

  it("when unknown disks, runs or restore points are asked for, then 404 names them", async () => {
    for (const [method, path] of [
      ["GET", "/api/disks/0000000000000000"],
      ["POST", "/api/disks/0000000000000000/sync"],
      ["PATCH", "/api/disks/0000000000000000"],
      ["DELETE", "/api/disks/0000000000000000"],
      ["GET", "/api/disks/0000000000000000/runs/nope"],
      ["POST", "/api/disks/0000000000000000/restore-points/nope/verify"],
    ] as const) {
      const answer = await call(method, path, method === "PATCH" ? { enabled: false } : undefined);
      assert.equal(answer.status, 404, `${method} ${path}`);
    }
  });

  it("when a sync is asked while a run is active, then 409 names the active run, and the first run still completes", async () => {
    const diskId = await app().createDisk("disk-busy", 1 * GiB);
    app().stack.disks.writeSeeded(diskId, 0, 1 * MiB, 1);
    const diskKey = await app().protect(diskId);
    const first = await call("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(first.status, 202);
    const runId = (first.body as { runId: string }).runId;
    const second = await call("POST", `/api/disks/${diskKey}/sync`);
    assert.equal(second.status, 409);
    assert.match((second.body as ErrorBody).error.message, new RegExp(runId));
    await app().host.runUntilIdle();
    const run = await call("GET", `/api/disks/${diskKey}/runs/${runId}`);
    assert.equal((run.body as { state: string }).state, "succeeded");
    const status = await call("GET", `/api/disks/${diskKey}`);
    assert.ok((status.body as { rpoSeconds: number }).rpoSeconds >= 0);
  });

  it("when no function key is sent, then 401", async () => {
    const url = await app().host.listen();
    const answer = await fetch(`${url}/disks`);
    assert.equal(answer.status, 401);
  });

  it("when the timer ticks, then due disks start, disabled ones do not, and an invalid row is reported without stopping others", async () => {
    const { stack, deps } = app();
    const due = await app().createDisk("disk-due", 1 * GiB);
    stack.disks.writeSeeded(due, 0, 512, 2);
    const dueKey = await app().protect(due, { schedule: "every 1h" });
    const off = await app().createDisk("disk-off", 1 * GiB);
    const offKey = await app().protect(off, { enabled: false });
    const table = TableClient.fromConnectionString(stack.appStorage.connectionString, tableNames.disks, { allowInsecureConnection: true });
    await table.upsertEntity({ partitionKey: "badrow", rowKey: "config", diskId: "not-a-disk", targetBlobEndpoint: "ftp://x", schedule: "often" });

    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const report = await scheduleDueBackups(deps, log);
    assert.ok(report.started.includes(dueKey));
    assert.ok(!report.started.includes(offKey));
    const bad = report.invalid.find((row) => row.row.includes("badrow"));
    assert.ok(bad, "the bad row is reported");
    assert.ok(bad.problems.some((p) => p.startsWith("diskId:")) && bad.problems.some((p) => p.startsWith("targetBlobEndpoint:")));
    await app().host.runUntilIdle();
    const again = await scheduleDueBackups(deps, log);
    assert.ok(!again.started.includes(dueKey), "not due again within the hour");
    await table.deleteEntity("badrow", "config");
  });
});
