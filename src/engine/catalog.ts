/**
 * `catalog rebuild`: RestorePoint records recreated from the manifests in a target account, so that an app that lost
 * its tables (a new app in another region after the source region went down) can list, restore and verify the
 * RestorePoints again. Only RestorePoints whose data is proven present are recorded; an existing record is never
 * overwritten or deleted (a record is never edited), so running it twice, or on an app with records, is safe.
 */
import { z } from "zod";
import { restorePointOfManifest } from "../domain/manifest";
import { protectedDiskInputSchema } from "../domain/model";
import type { CatalogProblem, CatalogSource } from "../adapters/target-catalog";
import type { Deps } from "./deps";

const targetShape = protectedDiskInputSchema.shape.target.shape;

/** Body of POST /api/catalog/rebuild: the target account's blob endpoint, and one container of it (default: all). */
export const catalogRebuildRequestSchema = z
  .object({ blobEndpoint: targetShape.blobEndpoint, container: targetShape.container.unwrap().optional() })
  .strict();
export type CatalogRebuildRequest = z.output<typeof catalogRebuildRequestSchema>;

/** What a rebuild found and did. */
export interface CatalogRebuild {
  /** Manifests that parse and describe where they lie. */
  readonly found: number;
  /** RestorePoint records written now. */
  readonly recorded: number;
  /** RestorePoints that had a record already (left as they were). */
  readonly alreadyRecorded: number;
  /** Manifests whose blob snapshot is not there: not recorded, a record must point at data. */
  readonly dataMissing: number;
  /** Manifests that cannot be used, and RestorePoints whose data does not match their manifest. */
  readonly problems: readonly CatalogProblem[];
}

export async function rebuildCatalog(deps: Deps, source: CatalogSource): Promise<CatalogRebuild> {
  const listing = await deps.catalog.list(source);
  let recorded = 0;
  let alreadyRecorded = 0;
  let dataMissing = 0;
  for (const manifest of listing.restorePoints) {
    if (!manifest.dataPresent) {
      dataMissing += 1;
      continue;
    }
    if (await deps.records.getRestorePoint(manifest.diskKey, manifest.restorePointId)) {
      alreadyRecorded += 1;
      continue;
    }
    // The URL the finalizer records, so that a rebuilt record equals the one it replaces.
    const targetBlobUrl = deps.targets(manifest.target).url;
    // Create-only: when another writer recorded it in the meantime, its record stays.
    await deps.records.recordRestorePoint(restorePointOfManifest(manifest, targetBlobUrl));
    recorded += 1;
  }
  return { found: listing.restorePoints.length, recorded, alreadyRecorded, dataMissing, problems: listing.problems };
}
