/**
 * Measurements taken outside the measured code: the kernel's per-process counters (/proc/<pid>/io, status, stat)
 * and the target endpoint's own view of what it received (the stack's fault injector counts matching requests;
 * the disk emulator counts the bytes Put Page From URL reads from the source).
 */
import { readFileSync, readdirSync } from "node:fs";
import type { DiskEmulator } from "../../emulator/disks/api";
import type { LocalStack } from "../../emulator/stack";

/** Bytes a process passed through read()/write() system calls, sockets included. */
export interface ProcessIo {
  readonly readBytes: number;
  readonly writtenBytes: number;
}

export function processIo(pid: number): ProcessIo {
  const fields = Object.fromEntries(
    readFileSync(`/proc/${pid}/io`, "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(":").map((part) => part.trim())),
  );
  return { readBytes: Number(fields.rchar), writtenBytes: Number(fields.wchar) };
}

export function ioSince(pid: number, before: ProcessIo): ProcessIo {
  const now = processIo(pid);
  return { readBytes: now.readBytes - before.readBytes, writtenBytes: now.writtenBytes - before.writtenBytes };
}

/** The resident-set high-water mark of a process (VmHWM), in bytes. */
export function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

/** User + system CPU time a process used so far, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** The Azurite process the stack in this process started. */
export function azuritePid(): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1].split(" ")[1];
      if (Number(parent) === process.pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("azurite")) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

/** CPU ms of each process of the local setup over one measured interval. */
export class CpuMeter {
  private readonly start: Record<string, number>;
  constructor(private readonly pids: Record<string, number | undefined>) {
    this.start = this.read();
  }
  private read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) if (pid !== undefined) out[name] = cpuMs(pid);
    return out;
  }
  used(): Record<string, number> {
    const now = this.read();
    return Object.fromEntries(Object.entries(now).map(([name, ms]) => [name, Math.round(ms - this.start[name])]));
  }
}

/** What the target endpoint received, counted on the server side of the connection. */
export interface TargetCounts {
  /** PUT ?comp=page requests (Put Page, Put Page From URL, Clear Pages), retries included. */
  readonly pageWrites: number;
  /** Bytes Put Page From URL read from managed-disk sources: the content written by server-side copies. */
  readonly copiedBytes: number;
  /** Get Page Ranges requests on snapshot data URLs (diffs and allocation queries). */
  readonly rangeQueries: number;
  /** ARM compute requests. */
  readonly computeRequests: number;
}

/** The target endpoint's counters, and the modeled service time of page writes (off unless set). */
export interface TargetCounter {
  read(): Promise<TargetCounts>;
  /** Delays every page write at the target by `ms` before it is served, as a remote service's own time would. */
  setServiceLatency(ms: number): Promise<void>;
}

/**
 * Counts at the stack: zero-latency fault rules match requests without changing them (the injector counts
 * matches per rule), and the emulator's `openSource` is wrapped to add up the bytes it serves to the blob proxy.
 * Replacing the rules resets the injector's counts, so earlier counts are carried over.
 */
export async function countAtTarget(stack: LocalStack): Promise<TargetCounter> {
  const observe = { kind: "latency", rate: 1 } as const;
  const pageWrites = { scope: "blob", method: "PUT", path: "[?&]comp=page(&|$)" } as const;
  const rules = (latencyMs: number) => [
    { ...observe, ...pageWrites, latencyMs },
    { ...observe, latencyMs: 0, scope: "data", method: "GET", path: "[?&]comp=pagelist(&|$)" },
    { ...observe, latencyMs: 0, scope: "compute" },
  ] as const;
  const emulator: DiskEmulator = stack.emulator;
  const open = emulator.openSource.bind(emulator);
  let copiedBytes = 0;
  emulator.openSource = (url) => {
    const reader = open(url);
    if (!reader) return reader;
    return {
      ...reader,
      read(offset, length) {
        const bytes = reader.read(offset, length);
        copiedBytes += bytes.length;
        return bytes;
      },
    };
  };
  let carried = [0, 0, 0];
  const matched = async () => (await stack.faults.stats()).rules.map((rule, i) => rule.matched + carried[i]);
  await stack.faults.set([...rules(0)]);
  return {
    async read() {
      const [writes, queries, compute] = await matched();
      return { pageWrites: writes, copiedBytes, rangeQueries: queries, computeRequests: compute };
    },
    async setServiceLatency(ms) {
      carried = await matched();
      await stack.faults.set([...rules(ms)]);
    },
  };
}

/** The difference of two counter readings. */
export function countsBetween(before: TargetCounts, after: TargetCounts): TargetCounts {
  return {
    pageWrites: after.pageWrites - before.pageWrites,
    copiedBytes: after.copiedBytes - before.copiedBytes,
    rangeQueries: after.rangeQueries - before.rangeQueries,
    computeRequests: after.computeRequests - before.computeRequests,
  };
}
