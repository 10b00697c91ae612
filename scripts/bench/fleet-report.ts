/** The fleet scenario's rows (scenario 9): the tick's time, the scaling table, ARM requests per backup, the limit. */
import { MiB } from "../../src/domain/ranges";
import type { FleetResult, FleetRound } from "./fleet";
import type { Row } from "./report";

const perMinute = (round: FleetRound) => round.succeeded / (round.wallMs / 60_000);
const mibPerSecond = (round: FleetRound) => round.bytesCopied / MiB / (round.wallMs / 1000);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const tickBoundMs = 30_000;

export function fleetRows(result: FleetResult): Row[] {
  const scenario = `10 fleet: ${result.disks} disks, ${(result.changedBytesPerDisk / MiB).toFixed(0)} MiB changed each`;
  const slowest = result.ticks.reduce((a, b) => (b.ms > a.ms ? b : a));
  const [base] = result.rounds;
  const writesPerBackup = base.pageWrites / Math.max(1, base.succeeded);
  const accountCeiling = (result.limits.accountRequestsPerSecond * 60) / Math.max(1, writesPerBackup);
  const rows: Row[] = [
    {
      scenario,
      measure: `timer tick itself, slowest of ${result.ticks.length} (pages of ${result.pageSize}, ${slowest.messages} schedule-pages messages)`,
      value: seconds(slowest.ms),
      reference: `${slowest.disks} disks fanned out, ${slowest.armRequests} ARM requests`,
      ratio: (slowest.ms / tickBoundMs).toFixed(3),
      target: "≤ 30 s",
      holds: result.ticks.every((t) => t.ms <= tickBoundMs),
    },
    roundRow(scenario, result.initial, undefined, `warm-up: the due disks' first backups`),
    ...result.rounds.map((round) => roundRow(scenario, round, base, `${result.duePerTick} of ${result.disks} due`)),
    ...result.rounds.map((round) => ({
      scenario,
      measure: `ARM calls per backup, N = ${round.workers}: operations + reads and polls`,
      value: `${(round.armOperations / Math.max(1, round.succeeded)).toFixed(1)} + ${((round.armRequests - round.armOperations) / Math.max(1, round.succeeded)).toFixed(1)}`,
      reference: `${round.armRequests} ARM of ${round.requests} HTTP requests`,
      ratio: "",
      target: "(reported)",
    })),
    {
      scenario,
      measure: "modelled account limit (page writes per account)",
      value: `${result.limits.accountRequestsPerSecond}/s`,
      reference: `${writesPerBackup.toFixed(1)} page writes per backup → ≈ ${Math.round(accountCeiling)} backups/min`,
      ratio: (perMinute(result.rounds[result.rounds.length - 1]) / accountCeiling).toFixed(4),
      target: "(share of the limit at the largest N)",
    },
  ];
  return rows;
}

function roundRow(scenario: string, round: FleetRound, base: FleetRound | undefined, due: string): Row {
  const cpu = round.cpuMs.workers + round.cpuMs.stack + round.cpuMs.azurite;
  const mean = (name: string) => seconds(round.invocations[name]?.meanMs ?? 0);
  const busy = `ours ${(cpu / round.wallMs).toFixed(2)} cores, load ${round.load.toFixed(1)}; prepare ${mean("prepareRun")}, finalize ${mean("finalizeRun")} each`;
  return {
    scenario,
    measure: `N = ${round.workers} worker process${round.workers > 1 ? "es" : ""}, ${due} (${round.succeeded}/${round.backups} succeeded)`,
    value: `${perMinute(round).toFixed(0)} backups/min, ${mibPerSecond(round).toFixed(1)} MiB/s`,
    reference: base ? `N = 1: ${perMinute(base).toFixed(0)}/min; ${busy}` : `${seconds(round.wallMs)}; ${busy}`,
    ratio: base ? `${(perMinute(round) / perMinute(base)).toFixed(2)}×` : "",
    target: base ? `(info: ideal ${round.workers}×)` : "(info)",
    holds: round.succeeded === round.backups && round.refused === 0 ? undefined : false,
  };
}
