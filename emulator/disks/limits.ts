/** Service limits the emulator enforces, with the sizes they are expressed in. */

export const gib = 2 ** 30;
/** Incremental snapshots cannot be diffed across a resize that takes a disk over this size. */
export const diffResizeBoundaryBytes = 4 * 2 ** 40;
/** The largest managed disk (32 TiB - 1 GiB), in GiB. */
export const maxDiskSizeGB = 32767;
/** SAS URIs of one incremental snapshot family that may be active at one time. */
export const maxActiveSasPerFamily = 5;
/** Incremental snapshots one disk may have at a time. */
export const maxIncrementalSnapshotsPerDisk = 500;
