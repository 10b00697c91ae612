/**
 * The performance tiers of a premium account's page blobs, which Azurite does not keep. As the service documents them
 * (https://learn.microsoft.com/rest/api/storageservices/get-blob-properties, …/set-blob-tier, …/put-blob):
 * - Get Blob Properties answers a page blob's tier in `x-ms-access-tier`; while none was set, the tier
 *   is the smallest that holds the blob's length and `x-ms-access-tier-inferred: true` says so.
 * - Set Blob Tier (`comp=tier`) and Put Blob (`x-ms-access-tier`) set one of the premium tiers; a tier that is smaller
 *   than the blob is refused 409 BlobTierInadequateForContentLength, a name that is no premium tier 400 InvalidBlobTier.
 * The tier table is the product's (src/domain/page-blob-tiers.ts): one set of figures for both.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type PageBlobTier, inferredPageBlobTier, pageBlobTierNamed } from "../../src/domain/page-blob-tiers";
import type { EmulatorHttpError } from "../disks/api";
import { type ServiceError, httpError, storageErrors } from "../error-catalog";

/** The tiers set on a premium account's page blobs, by blob path (`/<account>/<container>/<blob>`). */
export interface PageBlobTiers {
  /** The tier headers a Get Blob Properties answer for the blob at `path` carries, from Azurite's answer. */
  answerHeaders(path: string, answer: IncomingHttpHeaders): Record<string, string> | undefined;
  /** The tier `name` names, or the error the service answers; `sizeBytes` is the blob's length. */
  check(name: string | undefined, sizeBytes: number): PageBlobTier;
  /** Records the blob's set tier; undefined forgets it (the blob was deleted, or created with none). */
  set(path: string, tier: PageBlobTier | undefined): void;
  /** The blob's tier: the one set on it, else the smallest that holds `sizeBytes` (undefined past 8 TiB). */
  tierOf(path: string, sizeBytes: number): PageBlobTier | undefined;
}

export function createPageBlobTiers(): PageBlobTiers {
  const set = new Map<string, PageBlobTier>();
  return {
    answerHeaders(path, answer): Record<string, string> | undefined {
      if (String(answer["x-ms-blob-type"] ?? "") !== "PageBlob") return undefined;
      const explicit = set.get(path);
      if (explicit) return { "x-ms-access-tier": explicit.tier };
      const inferred = inferredPageBlobTier(blobLength(answer));
      return inferred ? { "x-ms-access-tier": inferred.tier, "x-ms-access-tier-inferred": "true" } : undefined;
    },
    check(name, sizeBytes) {
      const tier = pageBlobTierNamed(name);
      if (!tier) throw tierError(storageErrors.invalidBlobTier, name);
      if (tier.maxBytes < sizeBytes) throw tierError(storageErrors.blobTierInadequateForContentLength, name);
      return tier;
    },
    set(path, tier) {
      if (tier) set.set(path, tier);
      else set.delete(path);
    },
    tierOf(path, sizeBytes) {
      return set.get(path) ?? inferredPageBlobTier(sizeBytes);
    },
  };
}

function tierError(error: ServiceError, name: string | undefined): EmulatorHttpError {
  return httpError(error, { HeaderName: "x-ms-access-tier", HeaderValue: name ?? "" });
}

/** A blob's length from its Get Blob Properties answer. */
function blobLength(answer: IncomingHttpHeaders): number {
  return Number(answer["content-length"] ?? 0);
}
