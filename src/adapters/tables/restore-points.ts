/**
 * Table `diskdeltaRestorePoints`: every RestorePoint of a disk (partition key diskKey, row key restorePointId, which
 * sorts newest first). A RestorePoint's data is never edited: recording it twice keeps the first; only retention deletes
 * one. The one column written later is `differsFromSource`, when verifyAfterBackup finds it is not its disk.
 */
import { statusOf } from "../../domain/errors";
import { type RestorePoint, restorePointSchema } from "../../domain/records";
import { type Entity, type Table, deleteEntity, getEntity, listPartition, parseEntity, toEntity } from "./entities";

/** RestorePoints. */
export interface RestorePointRecords {
  /** Creates the RestorePoint unless it exists; returns the stored one. */
  recordRestorePoint(point: RestorePoint): Promise<RestorePoint>;
  listRestorePoints(diskKey: string): Promise<RestorePoint[]>;
  getRestorePoint(diskKey: string, restorePointId: string): Promise<RestorePoint | undefined>;
  deleteRestorePoint(diskKey: string, restorePointId: string): Promise<void>;
  /** Marks the RestorePoint as differing from its SourceSnapshot (`differsFromSource`); a no-op when it is gone. */
  flagDiffersFromSource(diskKey: string, restorePointId: string, differsFromSource: string): Promise<void>;
  /**
   * Every disk that has RestorePoints: its diskKey and diskId, how many, the newest source snapshot time. Reads three
   * columns of the whole table (for `list`: the disks no longer protected whose RestorePoints are kept).
   */
  summarizeRestorePoints(): Promise<RestorePointSummary[]>;
}

/** The RestorePoints of one disk, in short. */
export interface RestorePointSummary {
  readonly diskKey: string;
  readonly diskId: string;
  readonly restorePoints: number;
  readonly newestSourceSnapshotTime: string;
}

export function createRestorePointRecords(table: Table): RestorePointRecords {
  const parsePoint = (diskKey: string, entity: Entity): RestorePoint => parseEntity(restorePointSchema, entity, `${table.name}/${diskKey}/${entity.rowKey}`);
  return {
    recordRestorePoint: (point) =>
      table.use(async () => {
        try {
          await table.client.createEntity(toEntity(point.diskKey, point.restorePointId, point));
          return point;
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          const stored = await getEntity(table, point.diskKey, point.restorePointId);
          return parsePoint(point.diskKey, stored!);
        }
      }),
    listRestorePoints: (diskKey) =>
      table.use(async () => {
        const found: RestorePoint[] = [];
        for await (const entity of listPartition(table, diskKey)) found.push(parsePoint(diskKey, entity));
        return found;
      }),
    getRestorePoint: (diskKey, restorePointId) =>
      table.use(async () => {
        const entity = await getEntity(table, diskKey, restorePointId);
        return entity ? parsePoint(diskKey, entity) : undefined;
      }),
    deleteRestorePoint: (diskKey, restorePointId) => table.use(() => deleteEntity(table, diskKey, restorePointId)),
    flagDiffersFromSource: (diskKey, restorePointId, differsFromSource) =>
      table.use(async () => {
        // Merge with If-Match *: writes the one column, and never re-creates a RestorePoint retention deleted.
        await table.client.updateEntity(toEntity(diskKey, restorePointId, { differsFromSource }), "Merge", { etag: "*" }).catch((error: unknown) => {
          if (statusOf(error) !== 404) throw error;
        });
      }),
    summarizeRestorePoints: () =>
      table.use(async () => {
        const byDisk = new Map<string, RestorePointSummary>();
        const columns = { select: ["PartitionKey", "diskId", "sourceSnapshotTime"] };
        for await (const entity of table.client.listEntities<Record<string, unknown>>({ queryOptions: columns })) {
          const diskKey = entity.partitionKey;
          if (!diskKey) continue;
          const time = typeof entity.sourceSnapshotTime === "string" ? entity.sourceSnapshotTime : "";
          const seen = byDisk.get(diskKey);
          byDisk.set(diskKey, {
            diskKey,
            diskId: seen?.diskId || (typeof entity.diskId === "string" ? entity.diskId : ""),
            restorePoints: (seen?.restorePoints ?? 0) + 1,
            newestSourceSnapshotTime: seen && seen.newestSourceSnapshotTime > time ? seen.newestSourceSnapshotTime : time,
          });
        }
        return [...byDisk.values()];
      }),
  };
}
