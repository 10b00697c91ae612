/**
 * Table `diskdeltaCopySlots`: the fleet-wide count of Azure managed copies (CopyStart) in flight, which Azure limits
 * per subscription and target region. Partition key: subscription and region; row key: the slot's number. A slot is
 * taken by creating its row (two workers cannot both create it) and freed by deleting the row read (ETag), so the
 * count holds across every worker however many there are.
 */
import { type CopySlot, type Versioned, copySlotSchema } from "../../domain/records";
import { type Table, getEntity, listPartition, parseEntity, toEntity } from "./entities";
import { ConcurrencyError, statusOf } from "../../domain/errors";

/** A taken slot: its number and holder. */
export interface TakenCopySlot extends Versioned<CopySlot> {
  readonly slot: string;
}

/** Managed-copy slots. */
export interface CopySlotRecords {
  /** The taken slots of a region (`copyRegionKey`). */
  listCopySlots(region: string): Promise<TakenCopySlot[]>;
  /** Takes slot `slot` of the region for `holder`; false when another run holds it (true when `holder`'s run does: a retry). */
  takeCopySlot(region: string, slot: string, holder: CopySlot): Promise<boolean>;
  /** Frees the slot if it is still as it was read (ETag); a slot freed already is fine, one taken again is a ConcurrencyError. */
  freeCopySlot(region: string, taken: TakenCopySlot): Promise<void>;
}

/** The partition of a subscription's target region (table keys allow no `/`; ARM names compare case-insensitively). */
export function copyRegionKey(subscriptionId: string, location: string): string {
  return `${subscriptionId}-${location}`.toLowerCase().replace(/[^a-z0-9-]/g, "");
}

export function createCopySlotRecords(table: Table): CopySlotRecords {
  const { client } = table;
  return {
    listCopySlots: (region) =>
      table.use(async () => {
        const slots: TakenCopySlot[] = [];
        for await (const entity of listPartition(table, region)) {
          slots.push({ slot: String(entity.rowKey), value: parseEntity(copySlotSchema, entity, `${table.name}/${region}/${entity.rowKey}`), etag: entity.etag });
        }
        return slots;
      }),
    takeCopySlot: (region, slot, holder) =>
      table.use(async () => {
        try {
          await client.createEntity(toEntity(region, slot, holder));
          return true;
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
          // A create whose answer was lost, or a duplicate delivery of the same run: the row says whose the slot is.
          const row = await getEntity(table, region, slot);
          return row !== undefined && parseEntity(copySlotSchema, row, `${table.name}/${region}/${slot}`).runId === holder.runId;
        }
      }),
    freeCopySlot: (region, taken) =>
      table.use(async () => {
        try {
          await client.deleteEntity(region, taken.slot, { etag: taken.etag });
        } catch (error) {
          if (statusOf(error) === 404) return;
          if (statusOf(error) === 412) throw new ConcurrencyError(`copy slot ${region}/${taken.slot}`);
          throw error;
        }
      }),
  };
}
