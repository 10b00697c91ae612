/**
 * The premium page blob tiers (src/domain/page-blob-tiers.ts) and the limits model built on them (emulator/dataplane/blob-limits.ts): a TargetBlob is its disk plus
 * one 512-byte footer page, so a disk of exactly a tier's size needs the next tier, and no page blob exceeds 8 TiB.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { premiumBlobWriteLimits } from "../../emulator/dataplane/blob-limits";
import { inferredPageBlobTier } from "../../src/domain/page-blob-tiers";

const GiB = 2 ** 30;

describe("premium page blob tiers", () => {
  it("when a blob is a tier's size plus its footer page, then it takes the next tier", () => {
    assert.equal(inferredPageBlobTier(64 * GiB)?.tier, "P6");
    assert.equal(inferredPageBlobTier(64 * GiB + 512)?.tier, "P10");
    assert.equal(inferredPageBlobTier(4096 * GiB + 512)?.tier, "P60");
  });

  it("when the seed's 4 TiB disk is the target, then its blob's limits are P60's", () => {
    const limits = premiumBlobWriteLimits(4096 * GiB + 512);
    assert.equal(limits.blobBytesPerSecond, 500e6);
    assert.equal(limits.blobRequestsPerSecond, 16_000);
  });

  it("when a blob is larger than 8 TiB, then no tier holds it and the error says so", () => {
    assert.equal(inferredPageBlobTier(8192 * GiB + 512), undefined);
    assert.throws(() => premiumBlobWriteLimits(8192 * GiB + 512), /at most 8 TiB/);
  });
});
