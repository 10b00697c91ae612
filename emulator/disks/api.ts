/**
 * The contract between the disk emulator (ARM compute + snapshot data endpoint + disk writes)
 * and the stack that serves it (HTTPS server, fault injection, blob proxy, Azurite).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceBehaviour } from "../behaviour";
import type { ResourceGroupSeed, ResourceGroupStore } from "./resource-groups";
import type { VirtualMachineControl } from "./virtual-machines";
import type { CopyRate, SnapshotCopyInfo } from "./snapshot-copies";
import type { StorageAccountSeed } from "../storage-accounts";

/** Reads bytes of a snapshot (or other managed-disk source) that a SAS URL grants access to. */
export interface SourceReader {
  /** Content length of the source blob (disk size + 512-byte VHD footer). */
  readonly sizeBytes: number;
  /** Reads [offset, offset + length); never-written pages read as zeros. */
  read(offset: number, length: number): Buffer;
}

/** A managed-disk source as Put Page From URL reads it: its bytes, and the ETag and Last-Modified its URL answers with. */
export interface CopySource extends SourceReader {
  /** Quoted, as in the ETag header. */
  readonly etag: string;
  readonly lastModifiedMs: number;
}

/** Extra elements a storage error body carries after its Message, e.g. QueryParameterName. */
export type ErrorDetails = Record<string, string | number>;

/**
 * Thrown by the emulator for requests the real service would refuse; `status`/`code` are what Azure answers.
 * `details` are the extra elements of a storage error body, `headers` the extra headers of the answer
 * (e.g. x-ms-copy-source-status-code).
 */
export class EmulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Writes to managed disks as a VM would; offsets and lengths must be 512-byte aligned. A disk being uploaded
 * (ReadyToUpload, ActiveUpload) or exported (ActiveSAS) cannot be attached, so its writes are refused (409
 * OperationNotAllowed); so are guest state writes during an export.
 */
export interface DiskControl {
  /** Writes literal bytes at `offset` of the disk (resource id, case-insensitive). */
  write(diskId: string, offset: number, data: Buffer): void;
  /** Writes `length` bytes whose content is derived from `seed` and the absolute offset; costs no memory per byte. */
  writeSeeded(diskId: string, offset: number, length: number, seed: number): void;
  /** Trims (unmaps) pages: they read as zeros and show as ClearRange in a later diff. */
  trim(diskId: string, offset: number, length: number): void;
  /** Reads the disk's current content (no VHD footer). */
  read(diskId: string, offset: number, length: number): Buffer;
  /**
   * Sets the `completionPercent` ARM reports for a snapshot (resource id, case-insensitive), as a snapshot still
   * copied in the background (Premium SSD v2, Ultra, CopyStart) reports it; new snapshots report 100. Only the
   * reported value changes: the snapshot's data is served as at 100.
   */
  setSnapshotCompletion(snapshotId: string, percent: number): void;
  /**
   * Sets the rate of every managed copy (CopyStart) from now on, in bytes per second: 0 pauses them, `"instant"`
   * completes them at once (and every later one as it starts). Bytes already moved are kept.
   */
  setSnapshotCopyRate(bytesPerSecond: CopyRate): void;
  /**
   * Ends the running copy into a CopyStart snapshot in `copyCompletionError` (`errorCode` default CopySourceNotFound,
   * the reference's one documented reason); a failed copy stays failed, a completed one is 409 OperationNotAllowed.
   */
  failSnapshotCopy(snapshotId: string, errorMessage?: string, errorCode?: string): void;
  /** The copy into a CopyStart snapshot: its state, the bytes it must move and has moved, its base (404 / 409 otherwise). */
  readSnapshotCopy(snapshotId: string): SnapshotCopyInfo;
  /**
   * Replaces the VM guest state of a disk whose securityType is TrustedLaunch or ConfidentialVM_* (as the VM
   * would, running): whole 512-byte pages, 512 bytes to 64 MiB. Snapshots taken before keep the state they took.
   * A disk without a guest state is 409 OperationNotAllowed.
   */
  writeGuestState(diskId: string, data: Buffer): void;
  /** The disk's current VM guest state (a new secure disk's is 4 MiB derived from its uniqueId). */
  readGuestState(diskId: string): Buffer;
}

/**
 * Thrown by `openSource` for a data URL whose region is down (`setRegionOutage`): the source cannot be reached at
 * all, so Put Page From URL answers as the service does for a source it could not read in time.
 */
export class SourceUnreachableError extends EmulatorHttpError {
  constructor(location: string) {
    super(500, "CannotVerifyCopySource", `The copy source in region '${location}' cannot be reached.`);
  }
}

/** The disk emulator as the stack composes it. */
export interface DiskEmulator {
  readonly control: DiskControl;
  /** The subscription's resource groups: a disk or snapshot can only be created in one of them. */
  readonly resourceGroups: ResourceGroupStore;
  /** The subscription's VMs: created by control calls, read through ARM; their disks report managedBy. */
  readonly virtualMachines: VirtualMachineControl;
  /**
   * Serves the request if it is one of the emulator's routes (`/subscriptions/...` ARM compute,
   * `/md-.../...` snapshot data, `/_emulator/disks/...` control) and returns true; otherwise returns false
   * without touching the request.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /**
   * The source behind a managed-disk SAS URL served by this emulator, for Put Page From URL. Returns
   * undefined when the URL is not one of its data URLs; throws EmulatorHttpError(403, ...) for an expired,
   * revoked or forged SAS and (404, ...) for a source that no longer exists.
   */
  openSource(url: URL): CopySource | undefined;
}

/** Options the stack passes when it creates the disk emulator. */
export interface DiskEmulatorOptions {
  /** Public base URL of the HTTPS server, e.g. https://127.0.0.1:port, used to build accessSAS and LRO URLs. */
  baseUrl: string;
  subscriptionId: string;
  /** Delay before a long-running operation reports Succeeded, in ms (default 0: next poll succeeds). */
  lroDelayMs?: number;
  /** Value of Retry-After on the 202 of a PUT or PATCH, in seconds (default 0 locally; 2 in the recorded session). */
  lroRetryAfterSeconds?: number;
  /**
   * Value of Retry-After on the first InProgress poll of a PUT or PATCH, in seconds (default `lroRetryAfterSeconds`;
   * 10 in the recorded session). Later polls, and those of POST and DELETE operations, carry none.
   */
  lroPollRetryAfterSeconds?: number;
  /**
   * Resource groups that exist at start (default `defaultResourceGroups()`: those the tests and scripts use). A disk
   * or snapshot in any other group is 404 ResourceGroupNotFound until the group is created (ARM PUT or control route).
   */
  resourceGroups?: readonly ResourceGroupSeed[];
  /** Items per page of the list operations before a `nextLink` (default 100); small values exercise paging. */
  pageSize?: number;
  /**
   * Opens the source of a disk `Import` (`creationData.sourceUri`: a blob or blob snapshot URL in the target
   * storage). Without it, Import is refused. Throw EmulatorHttpError to answer with that status and code.
   */
  importReader?: (sourceUri: string) => Promise<ImportSource>;
  /**
   * The storage accounts the stack serves, with their regions: ARM's Get of an account answers them, and an Import
   * from an account in another region than the disk is refused (default none: Import then checks no region).
   */
  storageAccounts?: readonly StorageAccountSeed[];
  /** Live service behaviour (page list cap, growth-diff footer, compute throttling); read at every request. */
  behaviour?: ServiceBehaviour;
  /**
   * Bytes per second a managed copy (CopyStart) moves (default `defaultCopyBytesPerSecond`, 1 GiB/s); change it at
   * run time with `setSnapshotCopyRate`.
   */
  snapshotCopyBytesPerSecond?: CopyRate;
  /** CopyStarts in flight per subscription per target region (default 100, the service's); small values for tests. */
  maxSnapshotCopiesPerRegion?: number;
}

/** A page blob (or blob snapshot) that a disk Import copies from. */
export interface ImportSource {
  /** Content length of the blob: the disk size plus the 512-byte VHD footer. */
  readonly sizeBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
  /** Written pages as Get Page Ranges lists them: `end` is inclusive, e.g. {start: 0, end: 511}. */
  pageRanges(): Promise<{ start: number; end: number }[]>;
}
