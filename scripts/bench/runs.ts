/**
 * A diskdelta BackupRun measured from every side at once: the worker's own report (run record, probe), the
 * kernel's counters of the worker process, the target endpoint's counts, and CPU per process of the setup.
 */
import type { BenchStack } from "./context";
import type { ChildHandle } from "./ipc";
import { CpuMeter, type ProcessIo, type TargetCounts, countsBetween, ioSince, peakRss, processIo } from "./measure";
import type { SyncResult, WorkerCommands } from "./worker";

/** One measured BackupRun. */
export interface MeasuredRun extends SyncResult {
  readonly target: TargetCounts;
  /** read()/write() bytes of the worker process during the run (sockets included). */
  readonly workerIo: ProcessIo;
  readonly workerPeakRssBytes: number;
  /** CPU ms per process during the run: worker, stack (emulator + blob proxy, this process), azurite. */
  readonly cpuMs: Record<string, number>;
  /** From the first CopyStep's start to the last one's end. */
  readonly copyPhaseMs: number;
  readonly steps: number;
}

export async function measuredSync(bench: BenchStack, worker: ChildHandle<WorkerCommands>, diskKey: string): Promise<MeasuredRun> {
  const before = await bench.targetCounts();
  const io = processIo(worker.pid);
  const cpu = new CpuMeter({ worker: worker.pid, stack: process.pid, azurite: bench.azuritePid });
  const result = await worker.call("sync", { diskKey });
  const cpuMs = cpu.used();
  const workerIo = ioSince(worker.pid, io);
  const target = countsBetween(before, await bench.targetCounts());
  if (result.run.state !== "succeeded") {
    throw new Error(`BackupRun ${result.run.runId} ended ${result.run.state}: ${result.run.state === "failed" ? result.run.error : ""}\n${result.problems.join("\n")}`);
  }
  const steps = result.probe.invocations.filter((i) => i.name === "copyStep");
  const copyPhaseMs = steps.length ? Math.max(...steps.map((s) => s.endMs)) - Math.min(...steps.map((s) => s.startMs)) : 0;
  return { ...result, target, workerIo, workerPeakRssBytes: peakRss(worker.pid), cpuMs, copyPhaseMs, steps: steps.length };
}
