/**
 * The reference transfers a diskdelta run is compared with, run by the bench's client process on the same
 * requests, each with the CPU every process of the setup spent on it (to name the bottleneck).
 */
import type { Destination, Transfer } from "./client";
import type { BenchStack } from "./context";
import { blobBytesOf } from "./context";
import type { SeededExtent } from "./layout";
import { CpuMeter } from "./measure";

/** A reference transfer and the CPU ms each process spent on it. */
export interface Reference extends Transfer {
  readonly cpuMs: Record<string, number>;
}

/** The read SAS URLs of the source snapshot and, for a diff, of the previous one. */
export interface Snapshots {
  readonly source: string;
  readonly previous?: string;
}

export interface References {
  /** Plain Put Page of the requests' bytes: the raw limit. */
  putPage(): Promise<Reference>;
  /** Plain Put Page From URL of the same requests: the service operation without diskdelta around it. */
  copyFromUrl(): Promise<Reference>;
  /** The public sample's algorithm on the same snapshots. */
  sample(): Promise<Reference>;
  stop(): Promise<void>;
}

/**
 * A client process for one comparison. It first moves a few requests both ways (not measured), so that no
 * reference pays for connection set-up and compilation that diskdelta's run, coming later, would not. With
 * `targetBlob`, the references write into that blob (diskdelta's TargetBlob) instead of fresh blobs of their own.
 */
export async function startReferences(
  bench: BenchStack,
  label: string,
  diskBytes: number,
  requests: readonly SeededExtent[],
  concurrency: number,
  snapshots: Snapshots,
  targetBlob?: { container: string; blobName: string },
): Promise<References> {
  const client = await bench.client();
  const sizeBytes = blobBytesOf(diskBytes);
  const ranges = requests.map(({ start, end }) => ({ start, end }));
  const measured = async (work: () => Promise<Transfer>): Promise<Reference> => {
    const cpu = new CpuMeter({ client: client.pid, stack: process.pid, azurite: bench.azuritePid });
    const transfer = await work();
    return { ...transfer, cpuMs: cpu.used() };
  };
  const to = (name: string): Destination => (targetBlob ? { existing: targetBlob } : { fresh: `${label}-${name}` });
  const warmUp = requests.slice(0, 2 * concurrency);
  await client.call("putPages", { destination: { fresh: `${label}-warm-up` }, sizeBytes, requests: warmUp, concurrency });
  await client.call("copyPages", { destination: { fresh: `${label}-warm-up` }, sizeBytes, sourceUrl: snapshots.source, requests: ranges.slice(0, warmUp.length), concurrency });
  return {
    putPage: () => measured(() => client.call("putPages", { destination: to("put-page"), sizeBytes, requests: [...requests], concurrency })),
    copyFromUrl: () =>
      measured(() => client.call("copyPages", { destination: to("put-page-from-url"), sizeBytes, sourceUrl: snapshots.source, requests: ranges, concurrency })),
    sample: () =>
      measured(() => client.call("sampleCopy", { destination: to("sample"), sizeBytes, sourceUrl: snapshots.source, previousUrl: snapshots.previous })),
    async stop() {
      await client.call("cleanUp", undefined);
      await client.stop();
    },
  };
}
