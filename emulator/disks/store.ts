/**
 * The emulator's state: managed disks, their snapshots and the snapshot access grants, with the rules the
 * service enforces on them. Protocol-free: the ARM and data-plane routes translate HTTP to these calls.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { armLocation } from "../compute/operations";
import { armErrors, httpError } from "../error-catalog";
import { EmulatorHttpError, type DiskControl } from "./api";
import { ExtentMap, type ExtentContent } from "./extents";
import { GuestStateView } from "./guest-state";
import { maxActiveSasPerFamily, maxIncrementalSnapshotsPerDisk } from "./limits";
import { parseResourceId, resourceId, resourceKey } from "./resource-id";
import { pageSize } from "./seeded";
import {
  bytesChangedSince,
  copyLimitRefusal,
  copyPercent,
  defaultCopyBytesPerSecond,
  movedBytes,
  serviceMaxCopiesPerRegion,
  settledPhase,
  type CopyCompletionError,
  type CopyModel,
  type CopyRate,
  type SnapshotCopy,
  type SnapshotCopyInfo,
} from "./snapshot-copies";
import { buildFixedVhdFooter, vhdFooterSize } from "./vhd";
import { VhdView } from "./vhd-view";

/** `properties.creationData` as the service echoes it. */
export interface CreationData {
  createOption: string;
  sourceUri?: string;
  storageAccountId?: string;
  sourceResourceId?: string;
  sourceUniqueId?: string;
  /** Upload disks: the size of the upload, the disk's size plus the 512-byte VHD footer. */
  uploadSizeBytes?: number;
  /** 512 or 4096, echoed when the PUT set it. */
  logicalSectorSize?: number;
  /** ImportSecure: the blob the VM guest state was imported from. */
  securityDataUri?: string;
  /** ImportSecure of a Confidential VM disk: the blob of its VM metadata. */
  securityMetadataUri?: string;
}

/** `properties.supportedCapabilities` as the service keeps it. */
export interface SupportedCapabilities {
  architecture?: string;
  diskControllerTypes?: string;
  acceleratedNetwork?: boolean;
  supportedSecurityOption?: string;
}

/**
 * What a disk says about the VM it boots: the properties a restored OS disk needs to boot the VM it came from. A
 * snapshot copies them from its disk when it is taken, as the service does.
 */
export interface BootProperties {
  osType?: string;
  hyperVGeneration?: string;
  supportedCapabilities?: SupportedCapabilities;
  securityProfile?: { securityType: string; secureVMDiskEncryptionSetId?: string };
}

/** A new disk's settings beyond its size and source; all optional (sku Standard_LRS, no zones, no boot properties). */
export interface DiskSettings {
  sku?: string;
  zones?: string[];
  boot?: BootProperties;
  /** The guest state of a secure disk (ImportSecure); a secure disk without one gets `GuestStateView.initial`. */
  guestState?: GuestStateView;
  /** The disk's initial content (a Copy from a snapshot: the snapshot's frozen view); empty without it. */
  data?: ExtentMap;
}

/** Fields disks and snapshots share. */
interface ComputeResource {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  tags?: Record<string, string>;
  readonly uniqueId: string;
  /** Epoch ms; strictly increasing across all resources so ordering by timeCreated is total. */
  readonly timeCreated: number;
  /** Until this epoch ms, provisioningState reads "Updating" (the operation is still InProgress). */
  readyAt: number;
  readonly creationData: CreationData;
}

/** A grant of write access to an upload disk: the upload SAS names it (`/md-impexp-<accessId>/<blobId>/abcd`). */
export interface UploadAccess {
  readonly accessId: string;
  readonly blobId: string;
  expiresAt: number;
}

/**
 * A grant of read access to an unattached disk (its export): the data URL names it as a snapshot's grant does
 * (`/md-<accessId>/<blobId>/abcd`). `view` (and `guestState`) is the disk as it stood at the grant; no write
 * reaches the disk while it is exported, so that is its current content.
 */
export interface DiskExport extends SnapshotAccess {
  /** Epoch ms of the grant: the export blob's Last-Modified. */
  readonly grantedAt: number;
  readonly view: VhdView;
  readonly guestState?: GuestStateView;
}

/**
 * Where a disk stands, as `diskState` reports it. An Upload disk starts `ReadyToUpload`, is `ActiveUpload` from a
 * Write grant until its revoke (the uploaded footer page kept apart from the data), then `Unattached` like any other.
 * An `Unattached` disk is `ActiveSAS` from a Read grant (its export) until the revoke or the grant's expiry.
 */
export type DiskPhase =
  | { state: "Unattached" }
  | { state: "ReadyToUpload" }
  | { state: "ActiveUpload"; access: UploadAccess; footer: Buffer }
  | { state: "ActiveSAS"; access: DiskExport };

/** A managed disk: its live, writable content. */
export interface DiskRecord extends ComputeResource {
  /** Every incremental snapshot of this disk (this uniqueId) shares it; a recreated disk gets a new one. */
  readonly familyId: string;
  sizeBytes: number;
  readonly data: ExtentMap;
  phase: DiskPhase;
  /** `sku.name`. */
  sku: string;
  readonly zones?: string[];
  boot: BootProperties;
  /** Kept by disks whose securityType is TrustedLaunch or ConfidentialVM_*; replaced, never edited. */
  guestState?: GuestStateView;
  /** The id of the VM the disk is attached to (`managedBy`); the disk then reports `diskState` Attached. */
  managedBy?: string;
}

/** An active grant of read access to a snapshot's data. */
export interface SnapshotAccess {
  /** Names the grant in the data URL (`/md-<accessId>/...`); a new grant after a revoke gets a new one. */
  readonly accessId: string;
  readonly blobId: string;
  expiresAt: number;
  /** Set once a grant asked for `getSecureVMGuestStateSAS`: names the guest state's blob in `securityDataAccessSAS`. */
  guestStateBlobId?: string;
}

/** A snapshot: an immutable view of its disk at `gen`. */
export interface SnapshotRecord extends ComputeResource {
  readonly incremental: boolean;
  readonly familyId?: string;
  readonly view: VhdView;
  /** Writes with a generation above this one happened after the snapshot. */
  readonly gen: number;
  access?: SnapshotAccess;
  /**
   * What ARM reports as `completionPercent`: 100 unless a test set it (`setSnapshotCompletion`). A CopyStart target
   * reports its copy's instead (`copy`).
   */
  completionPercent: number;
  /** Set on a snapshot created with CopyStart: its background copy into this snapshot's region. */
  readonly copy?: SnapshotCopy;
  /** Copied from the disk when the snapshot was taken. */
  readonly boot: BootProperties;
  /** The disk's guest state when the snapshot was taken, if it had one. */
  readonly guestState?: GuestStateView;
}

/** One write of a batch, as the control route receives it. */
export type DiskOp =
  | { op: "write-seeded"; offset: number; length: number; seed: number }
  | { op: "trim"; offset: number; length: number };

/** The parameters common to creating a disk or snapshot. */
export interface NewResource {
  resourceGroup: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
}

export class DiskStore implements DiskControl {
  private readonly disks = new Map<string, DiskRecord>();
  private readonly snapshots = new Map<string, SnapshotRecord>();
  private readonly grants = new Map<string, SnapshotRecord>();
  private readonly uploads = new Map<string, DiskRecord>();
  private readonly exports = new Map<string, DiskRecord>();
  private gen = 0;
  private lastTimeCreated = 0;
  private copyRate: CopyRate;
  private readonly maxCopiesPerRegion: number;

  constructor(
    readonly subscriptionId: string,
    private readonly lroDelayMs: number,
    copies: Partial<CopyModel> = {},
  ) {
    this.copyRate = copies.bytesPerSecond ?? defaultCopyBytesPerSecond;
    this.maxCopiesPerRegion = copies.maxInFlightPerRegion ?? serviceMaxCopiesPerRegion;
  }

  findDisk(resourceGroup: string, name: string): DiskRecord | undefined {
    return this.disks.get(resourceKey(resourceGroup, name));
  }

  findSnapshot(resourceGroup: string, name: string): SnapshotRecord | undefined {
    return this.snapshots.get(resourceKey(resourceGroup, name));
  }

  /** Disks in creation order, optionally of one resource group. */
  listDisks(resourceGroup?: string): DiskRecord[] {
    return inGroup([...this.disks.values()], resourceGroup);
  }

  listSnapshots(resourceGroup?: string): SnapshotRecord[] {
    return inGroup([...this.snapshots.values()], resourceGroup);
  }

  /** The disk a resource id names, if it exists in this subscription. */
  diskById(id: string): DiskRecord | undefined {
    const ref = parseResourceId(id);
    if (!ref || ref.kind !== "disks" || ref.subscriptionId.toLowerCase() !== this.subscriptionId.toLowerCase()) {
      return undefined;
    }
    return this.findDisk(ref.resourceGroup, ref.name);
  }

  snapshotById(id: string): SnapshotRecord | undefined {
    const ref = parseResourceId(id);
    if (!ref || ref.kind !== "snapshots" || ref.subscriptionId.toLowerCase() !== this.subscriptionId.toLowerCase()) {
      return undefined;
    }
    return this.findSnapshot(ref.resourceGroup, ref.name);
  }

  /** A new, empty disk; the caller checked that the name is free. */
  createDisk(params: NewResource, sizeBytes: number, creationData: CreationData, settings: DiskSettings = {}): DiskRecord {
    const resource = this.newResource(params, "disks", creationData);
    const boot = settings.boot ?? {};
    const disk: DiskRecord = {
      ...resource,
      familyId: randomUUID(),
      sizeBytes,
      data: settings.data ? settings.data.freeze() : ExtentMap.empty(),
      phase: { state: creationData.createOption === "Upload" ? "ReadyToUpload" : "Unattached" },
      sku: settings.sku ?? "Standard_LRS",
      ...(settings.zones ? { zones: settings.zones } : {}),
      boot,
      ...(boot.securityProfile ? { guestState: settings.guestState ?? GuestStateView.initial(resource.uniqueId) } : {}),
    };
    this.disks.set(resourceKey(params.resourceGroup, params.name), disk);
    return disk;
  }

  deleteDisk(disk: DiskRecord): void {
    this.requireDetached(disk, "deleted");
    const state = this.phaseOf(disk).state;
    if (state === "ActiveUpload" || state === "ActiveSAS") {
      // Assumed, as for a snapshot with an active SAS: an upload or export under way is revoked before the disk is deleted.
      throw new EmulatorHttpError(
        409,
        "OperationNotAllowed",
        `Disk '${disk.name}' is in state ${state}; revoke access before deleting it.`,
      );
    }
    this.disks.delete(resourceKey(disk.resourceGroup, disk.name));
  }

  /** Grows the disk; the pages past the old end read as zeros until written. */
  resizeDisk(disk: DiskRecord, sizeBytes: number): void {
    this.requireState(disk, "resized", ["Unattached", "ActiveSAS"]);
    if (sizeBytes !== disk.sizeBytes) {
      this.requireDetached(disk, "resized");
      // An export serves the disk at its size; it would no longer be the disk's content.
      this.requireState(disk, "resized");
    }
    if (sizeBytes < disk.sizeBytes) {
      // The service refuses to shrink a disk; the exact code is assumed.
      throw new EmulatorHttpError(
        400,
        "InvalidParameter",
        `Disk '${disk.name}' cannot be shrunk from ${disk.sizeBytes} to ${sizeBytes} bytes: 'diskSizeGB' can only grow.`,
      );
    }
    disk.sizeBytes = sizeBytes;
    disk.readyAt = Date.now() + this.lroDelayMs;
  }

  /** Takes a snapshot of the disk as it is now. */
  createSnapshot(params: NewResource, source: DiskRecord, incremental: boolean): SnapshotRecord {
    // Assumed: an exported disk can be snapshotted (its content cannot change during the export).
    this.requireState(source, "snapshotted", ["Unattached", "ActiveSAS"]);
    if (incremental) {
      const existing = this.listSnapshots().filter((s) => s.incremental && s.familyId === source.familyId).length;
      if (existing >= maxIncrementalSnapshotsPerDisk) {
        // Assumed code: the limit (500 per disk) is documented, its error body is not.
        throw new EmulatorHttpError(
          409,
          "OperationNotAllowed",
          `Disk '${source.name}' already has ${existing} incremental snapshots, the maximum. Delete older ones first.`,
        );
      }
    }
    const creationData = { createOption: "Copy", sourceResourceId: source.id, sourceUniqueId: source.uniqueId };
    const snapshot: SnapshotRecord = {
      ...this.newResource(params, "snapshots", creationData),
      incremental,
      familyId: incremental ? source.familyId : undefined,
      view: new VhdView(source.sizeBytes, source.data.freeze(), this.footerOf(source)),
      gen: this.gen,
      completionPercent: 100,
      boot: structuredClone(source.boot),
      ...(source.guestState ? { guestState: source.guestState } : {}),
    };
    this.snapshots.set(resourceKey(params.resourceGroup, params.name), snapshot);
    return snapshot;
  }

  /**
   * Deletes the snapshot. The service asks not to delete a copy's source while the copy runs; deleting it anyway
   * ends each running copy of it in `copyCompletionError` CopySourceNotFound (the reference's one documented reason).
   */
  deleteSnapshot(snapshot: SnapshotRecord): void {
    if (this.activeAccess(snapshot)) {
      throw new EmulatorHttpError(
        409,
        "OperationNotAllowed",
        `Snapshot '${snapshot.name}' has an active SAS; revoke access before deleting it.`,
      );
    }
    this.snapshots.delete(resourceKey(snapshot.resourceGroup, snapshot.name));
    for (const target of this.runningCopies().filter((s) => sameId(s.copy.sourceId, snapshot.id))) {
      this.endCopy(target, {
        errorCode: "CopySourceNotFound",
        errorMessage: `The source snapshot '${snapshot.id}' was deleted while the background copy was in progress.`,
      });
    }
  }

  /**
   * Starts a managed copy (CopyStart) of `source` into `params.location`: a new incremental snapshot of the source's
   * family sharing its frozen view, whose copy moves the bytes changed since the previous completed copy of the
   * family into that region. Refused (see `copyLimitRefusal`): a second copy of the family while one runs (any
   * region), a source older than one of its family already copied or copying into that region, and more than
   * `maxInFlightPerRegion` copies running into that region. The caller checked the request's shape.
   */
  startSnapshotCopy(params: NewResource, source: SnapshotRecord): SnapshotRecord {
    this.requireUsable(source, "copied");
    const region = armLocation(params.location);
    const family = this.listSnapshots().filter((s): s is CopyTarget => s.copy !== undefined && s.familyId === source.familyId);
    for (const target of family) this.copyOf(target);
    const running = family.find((s) => s.copy.phase.state === "copying");
    if (running) {
      throw copyLimitRefusal("disk", `snapshot '${running.name}' of the same disk is still being copied; only one incremental snapshot of a disk can be copied at a time.`);
    }
    const inRegion = family.filter((s) => armLocation(s.location) === region && s.copy.phase.state !== "failed");
    const newer = inRegion.find((s) => s.copy.sourceTimeCreated > source.timeCreated);
    if (newer) {
      throw copyLimitRefusal("order", `snapshot '${newer.name}' in ${region} is a copy of a newer snapshot of the same disk; snapshots must be copied in the order they were created.`);
    }
    const inFlight = this.runningCopies().filter((s) => armLocation(s.location) === region).length;
    if (inFlight >= this.maxCopiesPerRegion) {
      throw copyLimitRefusal("region", `${inFlight} incremental snapshots are being copied into ${region}, the most one subscription can copy in parallel into one region.`);
    }
    const base = inRegion.filter((s) => s.copy.phase.state === "completed").sort((a, b) => a.copy.sourceTimeCreated - b.copy.sourceTimeCreated).at(-1);
    const creationData = { createOption: "CopyStart", sourceResourceId: source.id, sourceUniqueId: source.uniqueId };
    const now = Date.now();
    const target: SnapshotRecord = {
      ...this.newResource(params, "snapshots", creationData),
      incremental: true,
      familyId: source.familyId,
      view: source.view,
      gen: source.gen,
      completionPercent: 100,
      boot: structuredClone(source.boot),
      ...(source.guestState ? { guestState: source.guestState } : {}),
      copy: {
        sourceId: source.id,
        sourceUniqueId: source.uniqueId,
        sourceTimeCreated: source.timeCreated,
        baseSnapshotId: base?.id,
        bytesToMove: bytesChangedSince(source.view.data, source.view.diskSizeBytes, base?.gen),
        phase: { state: "copying", movedBytes: 0, since: now },
      },
    };
    this.snapshots.set(resourceKey(params.resourceGroup, params.name), target);
    return target;
  }

  /** The `completionPercent` ARM reports: a CopyStart target's copy's, else the stored one. */
  completionPercentOf(snapshot: SnapshotRecord): number {
    return snapshot.copy ? copyPercent(this.copyOf(snapshot as CopyTarget)) : snapshot.completionPercent;
  }

  /** A CopyStart target's `copyCompletionError`, once its copy failed. */
  copyErrorOf(snapshot: SnapshotRecord): CopyCompletionError | undefined {
    if (!snapshot.copy) return undefined;
    const phase = this.copyOf(snapshot as CopyTarget).phase;
    return phase.state === "failed" ? phase.error : undefined;
  }

  /**
   * Refuses to grant access to, copy, or create a disk from a CopyStart target whose copy has not completed (the
   * service: usable for restore or SAS only at completionPercent 100). 409 OperationNotAllowed is assumed.
   */
  requireUsable(snapshot: SnapshotRecord, what: string): void {
    if (!snapshot.copy) return;
    const copy = this.copyOf(snapshot as CopyTarget);
    if (copy.phase.state === "completed") return;
    const why = copy.phase.state === "failed" ? `its copy failed (${copy.phase.error.errorCode})` : `its copy is at completionPercent ${copyPercent(copy)}`;
    throw new EmulatorHttpError(
      409,
      "OperationNotAllowed",
      `Snapshot '${snapshot.name}' cannot be ${what}: ${why}; a copied snapshot is usable only at completionPercent 100.`,
    );
  }

  /** Sets the rate of every running copy from now on; the bytes moved until now are kept. */
  setSnapshotCopyRate(rate: CopyRate): void {
    if (rate !== "instant" && !(Number.isFinite(rate) && rate >= 0)) {
      throw new EmulatorHttpError(400, "InvalidParameter", `A copy rate is a number of bytes per second (0 pauses) or "instant", not ${String(rate)}.`);
    }
    for (const target of this.runningCopies()) this.copyOf(target);
    this.copyRate = rate;
    for (const target of this.runningCopies()) this.copyOf(target);
  }

  /** Ends a running copy in `copyCompletionError` (code CopySourceNotFound unless given); 409 once it has completed. */
  failSnapshotCopy(snapshotId: string, errorMessage = "The background copy failed (failure set through the emulator's control API).", errorCode = "CopySourceNotFound"): void {
    const target = this.requireCopyTarget(snapshotId);
    const phase = this.copyOf(target).phase;
    if (phase.state === "completed") {
      throw new EmulatorHttpError(409, "OperationNotAllowed", `The copy into snapshot '${target.name}' has completed; it can no longer fail.`);
    }
    if (phase.state === "copying") this.endCopy(target, { errorCode, errorMessage });
  }

  readSnapshotCopy(snapshotId: string): SnapshotCopyInfo {
    const target = this.requireCopyTarget(snapshotId);
    const copy = this.copyOf(target);
    return {
      id: target.id,
      sourceResourceId: copy.sourceId,
      baseSnapshotId: copy.baseSnapshotId,
      state: copy.phase.state,
      bytesToMove: copy.bytesToMove,
      bytesMoved: movedBytes(copy),
      completionPercent: copyPercent(copy),
      copyCompletionError: copy.phase.state === "failed" ? copy.phase.error : undefined,
    };
  }

  /** The snapshot's copy, settled to now at the current rate. */
  private copyOf(target: CopyTarget): SnapshotCopy {
    target.copy.phase = settledPhase(target.copy, this.copyRate, Date.now());
    return target.copy;
  }

  /** CopyStart targets whose copy is still running, settled to now. */
  private runningCopies(): CopyTarget[] {
    return [...this.snapshots.values()].filter((s): s is CopyTarget => s.copy !== undefined && this.copyOf(s as CopyTarget).phase.state === "copying");
  }

  private endCopy(target: CopyTarget, error: { errorCode: string; errorMessage: string }): void {
    const copy = this.copyOf(target);
    if (copy.phase.state !== "copying") return;
    copy.phase = { state: "failed", movedBytes: copy.phase.movedBytes, error };
  }

  private requireCopyTarget(snapshotId: string): CopyTarget {
    const snapshot = this.snapshotById(snapshotId);
    if (!snapshot) throw new EmulatorHttpError(404, "ResourceNotFound", `Snapshot '${snapshotId}' was not found.`);
    if (!snapshot.copy) throw new EmulatorHttpError(409, "OperationNotAllowed", `Snapshot '${snapshot.name}' was not created with CopyStart.`);
    return snapshot as CopyTarget;
  }

  /**
   * Deletes every disk and snapshot of the group, as deleting a resource group does; a snapshot's active SAS is
   * revoked first (the group's delete does not stop at it). Returns how many resources were deleted.
   */
  deleteGroupContents(resourceGroup: string): number {
    const snapshots = this.listSnapshots(resourceGroup);
    for (const snapshot of snapshots) {
      this.revokeAccess(snapshot);
      this.deleteSnapshot(snapshot);
    }
    const disks = this.listDisks(resourceGroup);
    for (const disk of disks) {
      this.revokeUpload(disk);
      this.revokeExport(disk);
      this.deleteDisk(disk);
    }
    return snapshots.length + disks.length;
  }

  /** The snapshot's grant if it has not expired nor been revoked. */
  activeAccess(snapshot: SnapshotRecord): SnapshotAccess | undefined {
    const access = snapshot.access;
    if (access && access.expiresAt <= Date.now()) {
      this.grants.delete(access.accessId);
      snapshot.access = undefined;
    }
    return snapshot.access;
  }

  /**
   * Grants read access for `durationSeconds`. Granting again while a grant is active extends it and keeps its
   * data URL, so it does not count twice against the per-family limit. With `guestState`, a snapshot that has a
   * guest state also gets its blob (`guestStateBlobId`), valid and revoked with the grant.
   */
  grantAccess(snapshot: SnapshotRecord, durationSeconds: number, guestState = false): SnapshotAccess {
    this.requireUsable(snapshot, "granted access");
    const expiresAt = Date.now() + durationSeconds * 1000;
    const current = this.activeAccess(snapshot);
    if (current) {
      current.expiresAt = expiresAt;
      if (guestState && snapshot.guestState && !current.guestStateBlobId) current.guestStateBlobId = randomName();
      return current;
    }
    if (snapshot.familyId) {
      const active = this.listSnapshots().filter((s) => s.familyId === snapshot.familyId && this.activeAccess(s));
      if (active.length >= maxActiveSasPerFamily) {
        // Assumed code: the limit of 5 active SAS per family is documented, its error body is not.
        throw new EmulatorHttpError(
          409,
          "OperationNotAllowed",
          `At most ${maxActiveSasPerFamily} snapshots of one incremental snapshot family can have an active SAS at a ` +
            `time; revoke access to one of ${active.map((s) => `'${s.name}'`).join(", ")} first.`,
        );
      }
    }
    const access: SnapshotAccess = {
      accessId: randomName(),
      blobId: randomName(),
      expiresAt,
      ...(guestState && snapshot.guestState ? { guestStateBlobId: randomName() } : {}),
    };
    snapshot.access = access;
    this.grants.set(access.accessId, snapshot);
    return access;
  }

  revokeAccess(snapshot: SnapshotRecord): void {
    if (snapshot.access) this.grants.delete(snapshot.access.accessId);
    snapshot.access = undefined;
  }

  /** The snapshot behind a data URL's access id, while its grant is active and the snapshot exists. */
  snapshotByAccessId(accessId: string): SnapshotRecord | undefined {
    const snapshot = this.grants.get(accessId);
    if (!snapshot || !this.activeAccess(snapshot) || snapshot.access?.accessId !== accessId) return undefined;
    return snapshot;
  }

  /**
   * Grants write access to an upload disk for `durationSeconds`: ReadyToUpload becomes ActiveUpload. Granting again
   * during the upload extends the grant and keeps its URL. Any other disk is refused (409, code assumed).
   */
  grantUpload(disk: DiskRecord, durationSeconds: number): UploadAccess {
    const expiresAt = Date.now() + durationSeconds * 1000;
    if (disk.phase.state === "ActiveUpload") {
      disk.phase.access.expiresAt = expiresAt;
      return disk.phase.access;
    }
    if (disk.phase.state !== "ReadyToUpload") {
      throw new EmulatorHttpError(
        409,
        "OperationNotAllowed",
        `Disk '${disk.name}' is not in state ReadyToUpload: write access is granted only to a disk created with createOption Upload, before its upload ends.`,
      );
    }
    const access: UploadAccess = { accessId: randomName(), blobId: randomName(), expiresAt };
    disk.phase = { state: "ActiveUpload", access, footer: Buffer.alloc(vhdFooterSize) };
    this.uploads.set(access.accessId, disk);
    return access;
  }

  /**
   * Ends an upload: ActiveUpload becomes Unattached, and the disk holds what was written. The uploaded footer is
   * not checked (whether the service validates it at revoke is unsourced). Other disks are left as they are.
   */
  revokeUpload(disk: DiskRecord): void {
    if (disk.phase.state !== "ActiveUpload") return;
    this.uploads.delete(disk.phase.access.accessId);
    disk.phase = { state: "Unattached" };
    disk.readyAt = Date.now() + this.lroDelayMs;
  }

  /**
   * Grants read access to a disk for `durationSeconds` (its export): Unattached becomes ActiveSAS until `revokeExport`
   * or the grant's expiry. Granting again during the export extends it and keeps its data URL; with `guestState`, a
   * disk that has a VM guest state also gets its blob (`guestStateBlobId`), valid and revoked with the grant. A disk
   * waiting for or in its upload is refused, and so is a disk attached to a VM (409 OperationNotAllowed, assumed).
   */
  grantExport(disk: DiskRecord, durationSeconds: number, guestState = false): DiskExport {
    const expiresAt = Date.now() + durationSeconds * 1000;
    const phase = this.phaseOf(disk);
    if (phase.state === "ActiveSAS") {
      phase.access.expiresAt = expiresAt;
      if (guestState && phase.access.guestState && !phase.access.guestStateBlobId) phase.access.guestStateBlobId = randomName();
      return phase.access;
    }
    if (phase.state !== "Unattached") throw httpError(armErrors.diskNotReadable(disk.name, phase.state));
    this.requireDetached(disk, "exported");
    const access: DiskExport = {
      accessId: randomName(),
      blobId: randomName(),
      expiresAt,
      grantedAt: Date.now(),
      view: new VhdView(disk.sizeBytes, disk.data.freeze(), this.footerOf(disk)),
      ...(disk.guestState ? { guestState: disk.guestState } : {}),
      ...(guestState && disk.guestState ? { guestStateBlobId: randomName() } : {}),
    };
    disk.phase = { state: "ActiveSAS", access };
    this.exports.set(access.accessId, disk);
    return access;
  }

  /** Ends a disk's export: ActiveSAS becomes Unattached and its data URLs are refused. Other disks are left as they are. */
  revokeExport(disk: DiskRecord): void {
    if (disk.phase.state !== "ActiveSAS") return;
    this.exports.delete(disk.phase.access.accessId);
    disk.phase = { state: "Unattached" };
  }

  /** The exported disk behind a data URL's access id, while its grant is active and the disk exists. */
  diskByExportAccessId(accessId: string): DiskRecord | undefined {
    const disk = this.exports.get(accessId);
    if (!disk) return undefined;
    const phase = this.phaseOf(disk);
    if (phase.state !== "ActiveSAS" || phase.access.accessId !== accessId) return undefined;
    return disk;
  }

  /** The disk's `diskState`: Attached while a VM holds it, else its phase (an expired export is Unattached again). */
  diskState(disk: DiskRecord): string {
    const phase = this.phaseOf(disk);
    return disk.managedBy ? "Attached" : phase.state;
  }

  /** The disk behind an upload SAS's access id, while its write grant is active and the disk exists. */
  diskByUploadAccessId(accessId: string): DiskRecord | undefined {
    const disk = this.uploads.get(accessId);
    if (!disk || disk.phase.state !== "ActiveUpload" || disk.phase.access.accessId !== accessId) return undefined;
    if (disk.phase.access.expiresAt <= Date.now()) return undefined;
    return disk;
  }

  /**
   * A Put Page into an upload: `data` at `offset` of the upload blob (the disk, then its footer page), or zeros where
   * `data` is undefined (clear). The caller checked alignment and bounds against `uploadSizeBytes`.
   */
  putUploadPages(disk: DiskRecord, offset: number, length: number, data: Buffer | undefined): void {
    if (disk.phase.state !== "ActiveUpload") throw new Error(`disk ${disk.id} is not being uploaded`);
    const dataEnd = Math.min(offset + length, disk.sizeBytes);
    if (offset < dataEnd) {
      const content: ExtentContent = data ? { kind: "bytes", data: Buffer.from(data.subarray(0, dataEnd - offset)), origin: offset } : clear;
      disk.data.set(offset, dataEnd, ++this.gen, content);
    }
    for (let at = Math.max(offset, disk.sizeBytes); at < offset + length; at += pageSize) {
      const page = data ? data.subarray(at - offset, at - offset + pageSize) : Buffer.alloc(pageSize);
      page.copy(disk.phase.footer, at - disk.sizeBytes);
    }
  }

  write(diskId: string, offset: number, data: Buffer): void {
    const disk = this.requireDiskById(diskId);
    this.requireState(disk, "written by a VM");
    checkSpan(disk, offset, data.length);
    if (data.length > 0) {
      disk.data.set(offset, offset + data.length, ++this.gen, { kind: "bytes", data: Buffer.from(data), origin: offset });
    }
  }

  writeSeeded(diskId: string, offset: number, length: number, seed: number): void {
    this.applyOps(diskId, [{ op: "write-seeded", offset, length, seed }]);
  }

  trim(diskId: string, offset: number, length: number): void {
    this.applyOps(diskId, [{ op: "trim", offset, length }]);
  }

  /** Applies writes in order; all are checked before any is applied, so a bad batch changes nothing. */
  applyOps(diskId: string, ops: readonly DiskOp[]): void {
    const disk = this.requireDiskById(diskId);
    this.requireState(disk, "written by a VM");
    for (const op of ops) checkSpan(disk, op.offset, op.length);
    for (const op of ops) {
      if (op.length === 0) continue;
      const content: ExtentContent = op.op === "trim" ? clear : { kind: "seeded", seed: op.seed >>> 0 };
      disk.data.set(op.offset, op.offset + op.length, ++this.gen, content);
    }
  }

  read(diskId: string, offset: number, length: number): Buffer {
    const disk = this.requireDiskById(diskId);
    if (offset < 0 || length < 0 || offset + length > disk.sizeBytes) {
      throw new EmulatorHttpError(400, "InvalidParameter", `Read [${offset}, ${offset + length}) is outside the disk.`);
    }
    return new VhdView(disk.sizeBytes, disk.data, Buffer.alloc(0)).read(offset, length);
  }

  writeGuestState(diskId: string, data: Buffer): void {
    const disk = this.requireDiskById(diskId);
    if (!disk.guestState) throw noGuestState(disk);
    // A guest state write during an upload stays allowed, as before exports existed.
    this.requireState(disk, "written by a VM", ["Unattached", "ReadyToUpload", "ActiveUpload"]);
    disk.guestState = GuestStateView.of(data, "The guest state written");
  }

  readGuestState(diskId: string): Buffer {
    const disk = this.requireDiskById(diskId);
    if (!disk.guestState) throw noGuestState(disk);
    return disk.guestState.read(0, disk.guestState.sizeBytes);
  }

  /** Attaches the disk to a VM: it reports `managedBy` and `diskState` Attached until `detach`. */
  attach(disk: DiskRecord, vmId: string): void {
    this.requireState(disk, "attached to a VM");
    if (disk.managedBy && disk.managedBy.toLowerCase() !== vmId.toLowerCase()) {
      throw attachedElsewhere(disk, "attached to another VM");
    }
    disk.managedBy = vmId;
  }

  detach(disk: DiskRecord): void {
    disk.managedBy = undefined;
  }

  setSnapshotCompletion(snapshotId: string, percent: number): void {
    const snapshot = this.snapshotById(snapshotId);
    if (!snapshot) throw new EmulatorHttpError(404, "ResourceNotFound", `Snapshot '${snapshotId}' was not found.`);
    if (snapshot.copy) {
      throw new EmulatorHttpError(409, "OperationNotAllowed", `Snapshot '${snapshot.name}' reports its CopyStart copy's completion: use setSnapshotCopyRate or failSnapshotCopy.`);
    }
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new EmulatorHttpError(400, "InvalidParameter", `A completion percentage is a whole number from 0 to 100, not ${percent}.`);
    }
    snapshot.completionPercent = percent;
  }

  /** The footer every snapshot of this disk at its current size carries. */
  private footerOf(disk: DiskRecord): Buffer {
    return buildFixedVhdFooter(disk.sizeBytes, disk.uniqueId, new Date(disk.timeCreated));
  }

  /** The disk's phase, after ending an export whose grant expired (the service returns the disk to Unattached). */
  private phaseOf(disk: DiskRecord): DiskPhase {
    if (disk.phase.state === "ActiveSAS" && disk.phase.access.expiresAt <= Date.now()) this.revokeExport(disk);
    return disk.phase;
  }

  /**
   * Refuses what a disk outside the `allowed` states cannot do; by default what a disk being uploaded (or waiting for
   * its upload) or exported cannot do: be attached to a VM, written or resized. 409 OperationNotAllowed naming the
   * state is assumed; the service's code is not documented.
   */
  private requireState(disk: DiskRecord, what: string, allowed: readonly DiskPhase["state"][] = ["Unattached"]): void {
    const state = this.phaseOf(disk).state;
    if (allowed.includes(state)) return;
    const then = state === "ActiveSAS" ? "revoke access (end the export) first" : "finish the upload and revoke access first";
    throw new EmulatorHttpError(409, "OperationNotAllowed", `Disk '${disk.name}' is in state ${state} and cannot be ${what}; ${then}.`);
  }

  /**
   * Refuses what a disk attached to a VM cannot do: be deleted, or resized (the reference: resizes only while not
   * attached to a running VM; the emulator's VMs always run). 409 OperationNotAllowed is assumed.
   */
  private requireDetached(disk: DiskRecord, what: string): void {
    if (disk.managedBy) throw attachedElsewhere(disk, what);
  }

  private requireDiskById(diskId: string): DiskRecord {
    const disk = this.diskById(diskId);
    if (!disk) throw new EmulatorHttpError(404, "ResourceNotFound", `Disk '${diskId}' was not found.`);
    return disk;
  }

  private newResource(params: NewResource, kind: "disks" | "snapshots", creationData: CreationData) {
    const now = Date.now();
    this.lastTimeCreated = Math.max(now, this.lastTimeCreated + 1);
    return {
      id: resourceId({ subscriptionId: this.subscriptionId, resourceGroup: params.resourceGroup, kind, name: params.name }),
      name: params.name,
      resourceGroup: params.resourceGroup,
      location: params.location,
      tags: params.tags,
      uniqueId: randomUUID(),
      timeCreated: this.lastTimeCreated,
      readyAt: now + this.lroDelayMs,
      creationData,
    };
  }
}

const clear: ExtentContent = { kind: "clear" };

/** A snapshot created with CopyStart. */
type CopyTarget = SnapshotRecord & { readonly copy: SnapshotCopy };

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function noGuestState(disk: DiskRecord): EmulatorHttpError {
  return new EmulatorHttpError(
    409,
    "OperationNotAllowed",
    `Disk '${disk.name}' has no VM guest state: only a disk whose securityProfile.securityType is TrustedLaunch or ConfidentialVM_* has one.`,
  );
}

function attachedElsewhere(disk: DiskRecord, what: string): EmulatorHttpError {
  return new EmulatorHttpError(
    409,
    "OperationNotAllowed",
    `Disk '${disk.name}' is attached to VM '${disk.managedBy}' and cannot be ${what}; detach it (delete the VM) first.`,
  );
}

function inGroup<T extends { resourceGroup: string; timeCreated: number }>(items: T[], group?: string): T[] {
  const wanted = group?.toLowerCase();
  return items
    .filter((item) => wanted === undefined || item.resourceGroup.toLowerCase() === wanted)
    .sort((a, b) => a.timeCreated - b.timeCreated);
}

function checkSpan(disk: DiskRecord, offset: number, length: number): void {
  const aligned = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset % pageSize === 0;
  if (!aligned || length % pageSize !== 0 || offset < 0 || length < 0) {
    throw new EmulatorHttpError(400, "InvalidParameter", `Offset ${offset} and length ${length} must be 512-byte aligned.`);
  }
  if (offset + length > disk.sizeBytes) {
    throw new EmulatorHttpError(
      400,
      "InvalidParameter",
      `[${offset}, ${offset + length}) is past the end of disk '${disk.name}' (${disk.sizeBytes} bytes).`,
    );
  }
}

/** 12 lowercase letters and digits, like the host and container names of real managed-disk SAS URLs. */
function randomName(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join("");
}
