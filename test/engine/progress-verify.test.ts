/**
 * Progress of a verification: a caller that names its verification (POST …/verify with a verificationId) can follow
 * it with GET …/verifications/{id} while the request runs, and gets the same answer as one that just waits.
 * Observed from inside the verification (an interception after some reads of the RestorePoint's blocks, which holds
 * the rest back), never by timing.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { Verification } from "../../src/domain/records";
import { GiB, MiB, type TestApp, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { intercept } from "../support/intercept";

type Answer = { status: number; body: unknown };
type RunningVerification = Extract<Verification, { state: "running" }>;

async function verificationOf(app: TestApp, path: string, verificationId: string): Promise<Answer> {
  return app.host.invokeHttp("GET", `${path}/verifications/${verificationId}`);
}

/** Polls the verification until it reads and has compared something (bounded, not timed). */
async function readingVerification(app: TestApp, path: string, verificationId: string): Promise<RunningVerification> {
  for (let poll = 0; poll < 400; poll++) {
    const answer = await verificationOf(app, path, verificationId);
    const verification = answer.body as Verification;
    if (answer.status === 200 && verification.state === "running" && verification.phase === "reading" && verification.bytesCompared > 0) return verification;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`verification ${verificationId} never showed its reading progress`);
}

describe("progress of a verification", () => {
  const app = useTestApp({ settings: { DISKDELTA_PROGRESS_SECONDS: "0" } });

  it("when a verification named by its caller is halfway through its reads, then GET shows bytes compared above 0 and below the total, and the answer is the one a caller that just waits gets", async () => {
    const diskId = await app().createDisk("disk-verify-progress", 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 32 * MiB, 96 * MiB, 77);
    const diskKey = await app().protect(diskId);
    const { point } = await syncAndVerify(app(), diskKey);
    const path = `/api/disks/${diskKey}/restore-points/${point.restorePointId}`;
    const verificationId = randomUUID();

    let seen: RunningVerification | undefined;
    // After 4 of the RestorePoint's two dozen block reads the rest wait until the progress was read.
    const observing = intercept(app().deps, "target.readSnapshot", 4, async () => {
      seen = await readingVerification(app(), path, verificationId);
    });
    const followed = await app().withDeps(observing.deps).host.invokeHttp("POST", `${path}/verify`, { verificationId });
    assert.ok(observing.fired() && seen, "the progress was read mid-verify");
    assert.equal(seen.restorePointId, point.restorePointId);
    assert.equal(seen.bytesListed, seen.bytesToList, "both sides were listed before reading");
    assert.ok(seen.bytesCompared > 0 && seen.bytesCompared < seen.bytesToCompare, `mid-verify ${seen.bytesCompared} of ${seen.bytesToCompare}`);

    const waited = await app().host.invokeHttp("POST", `${path}/verify`);
    assert.equal(followed.status, 200, JSON.stringify(followed.body));
    assert.deepEqual(followed.body, waited.body, "the same answer, followed or not");
    const answer = followed.body as { equal: boolean; basis: string; sourceDigest: string; bytesRead: number };
    assert.equal(answer.equal, true);
    assert.equal(answer.basis, "source-snapshot");
    assert.equal(answer.bytesRead, seen.bytesToCompare, "what was to compare was read");
    assert.equal(answer.sourceDigest, await app().targetDigest(point), "the RestorePoint's content digest");

    const ended = await verificationOf(app(), path, verificationId);
    assert.equal(ended.status, 200);
    const verification = ended.body as Verification;
    assert.equal(verification.state, "finished");
    assert.ok(verification.state === "finished" && verification.equal && verification.sourceDigest === answer.sourceDigest && verification.mismatches === "");
  });

  it("when a verificationId is used again, or asked for with another RestorePoint, then the API says so", async () => {
    const diskId = await app().createDisk("disk-verify-progress-ids", 2 * GiB);
    app().stack.disks.writeSeeded(diskId, 0, 4 * MiB, 78);
    const diskKey = await app().protect(diskId);
    const { point } = await syncAndVerify(app(), diskKey);
    const path = `/api/disks/${diskKey}/restore-points/${point.restorePointId}`;
    const verificationId = randomUUID();
    assert.equal((await app().host.invokeHttp("POST", `${path}/verify`, { verificationId })).status, 200);
    const again = await app().host.invokeHttp("POST", `${path}/verify`, { verificationId });
    assert.equal(again.status, 409);
    assert.equal((again.body as { error: { code: string } }).error.code, "VerificationExists");
    const elsewhere = await verificationOf(app(), `/api/disks/${diskKey}/restore-points/rp-other`, verificationId);
    assert.equal(elsewhere.status, 404);
    const bad = await app().host.invokeHttp("POST", `${path}/verify`, { verificationId: "no/slashes" });
    assert.equal(bad.status, 400);
  });
});
