/**
 * The VM guest state (VMGS: the vTPM and UEFI variables) that the service keeps beside a Trusted Launch or
 * Confidential VM disk and exports through `securityDataAccessSAS`. It is a page blob of its own, not part of
 * the disk's VHD. The emulator keeps it immutable: a write replaces it, so a snapshot that took it keeps it as it was.
 */
import { createHash } from "node:crypto";
import { EmulatorHttpError } from "./api";
import { ExtentMap } from "./extents";
import { pageSize } from "./seeded";
import { VhdView } from "./vhd-view";

/**
 * Size of the guest state a new disk gets when nobody wrote or imported one. Unsourced: 4 MiB is the emulator's
 * choice of a small, 512-aligned size (the service does not publish the size of a VMGS blob).
 */
export const defaultGuestStateBytes = 4 * 1024 * 1024;
/** The largest guest state the emulator takes (control write or ImportSecure); its own bound, to stay cheap in memory. */
export const maxGuestStateBytes = 64 * 1024 * 1024;

/** A guest state as the data endpoint serves it: a page blob of `sizeBytes`, with no VHD footer. */
export class GuestStateView extends VhdView {
  private constructor(sizeBytes: number, data: ExtentMap) {
    super(sizeBytes, data, Buffer.alloc(0));
  }

  override get sizeBytes(): number {
    return this.diskSizeBytes;
  }

  /** The guest state a disk starts with: `defaultGuestStateBytes` of content derived from its uniqueId (no memory per byte). */
  static initial(uniqueId: string): GuestStateView {
    const seed = createHash("sha256").update(`guest-state/${uniqueId}`).digest().readUInt32LE(0);
    const data = ExtentMap.empty();
    data.set(0, defaultGuestStateBytes, 0, { kind: "seeded", seed });
    return new GuestStateView(defaultGuestStateBytes, data);
  }

  /** A guest state holding exactly `bytes`: non-empty, whole 512-byte pages, at most `maxGuestStateBytes`. */
  static of(bytes: Buffer, what: string): GuestStateView {
    if (bytes.length === 0 || bytes.length % pageSize !== 0 || bytes.length > maxGuestStateBytes) {
      throw new EmulatorHttpError(
        400,
        "InvalidParameter",
        `${what} is ${bytes.length} bytes: a VM guest state is a page blob of whole 512-byte pages, 512 bytes to ${maxGuestStateBytes} bytes.`,
      );
    }
    const data = ExtentMap.empty();
    data.set(0, bytes.length, 0, { kind: "bytes", data: Buffer.from(bytes), origin: 0 });
    return new GuestStateView(bytes.length, data);
  }
}
