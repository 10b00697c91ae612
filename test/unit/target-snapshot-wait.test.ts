/** When a run asks again for the blob snapshot a premium TargetBlob refused for the rate (one per interval). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextSnapshotTry } from "../../src/engine/finalize";

describe("asking again for a refused TargetBlob snapshot", () => {
  const now = new Date("2026-01-15T10:05:00.000Z");
  const at = (iso: string) => Date.parse(iso);

  it("when the blob's newest snapshot is within the interval, then it asks an interval after that snapshot", () => {
    const snapshots = [at("2026-01-15T10:01:00.000Z"), at("2026-01-15T09:00:00.000Z")];
    assert.equal(nextSnapshotTry(snapshots, 600, now).toISOString(), "2026-01-15T10:11:00.000Z");
  });

  it("when the interval has passed by the setting (Azure's is longer) or no snapshot is listed, then it asks a tenth of the interval from now, at least 1 s on", () => {
    assert.equal(nextSnapshotTry([at("2026-01-15T09:00:00.000Z")], 600, now).toISOString(), "2026-01-15T10:06:00.000Z");
    assert.equal(nextSnapshotTry([], 600, now).toISOString(), "2026-01-15T10:06:00.000Z");
    assert.equal(nextSnapshotTry([at("2026-01-15T10:04:59.500Z")], 2, now).toISOString(), "2026-01-15T10:05:01.500Z", "an interval after");
    assert.equal(nextSnapshotTry([at("2026-01-15T10:04:58.500Z")], 2, now).toISOString(), "2026-01-15T10:05:01.000Z", "due in under 1 s: 1 s on");
    assert.equal(nextSnapshotTry([Number.NaN], 0, now).toISOString(), "2026-01-15T10:05:01.000Z");
  });

  it("when the run has waited a while already, then it asks again after half the time waited, so a setting too short costs few asks", () => {
    const old = [at("2026-01-15T09:00:00.000Z")];
    assert.equal(nextSnapshotTry(old, 0, now, new Date("2026-01-15T10:04:00.000Z")).toISOString(), "2026-01-15T10:05:30.000Z");
    assert.equal(nextSnapshotTry(old, 600, now, new Date("2026-01-15T10:04:00.000Z")).toISOString(), "2026-01-15T10:06:00.000Z", "a tenth of the interval is longer");
    let asks = 0;
    const since = new Date(at("2026-01-15T10:00:00.000Z"));
    for (let t = since; t.getTime() < at("2026-01-15T10:10:00.000Z"); t = nextSnapshotTry(old, 0, t, since)) asks++;
    assert.ok(asks <= 20, `${asks} asks in Azure's ten minutes with the setting at 0 (one a second would be 600)`);
  });
});
