/**
 * Metrics. In Azure (APPLICATIONINSIGHTS_CONNECTION_STRING set), values go to Application Insights as customMetrics
 * through the Azure Monitor OpenTelemetry distro; without it, they are kept in memory for status and tests.
 */
import type { TokenCredential } from "@azure/core-auth";
import { app } from "@azure/functions";
import { shutdownAzureMonitor, useAzureMonitor } from "@azure/monitor-opentelemetry";
import { type Meter, metrics } from "@opentelemetry/api";
import type { Metrics } from "../engine/deps";

/** How a metric is aggregated before it is exported. */
export type InstrumentKind = "histogram" | "counter" | "gauge";

/** What a metric name means to OpenTelemetry: its instrument, unit and description. */
export interface MetricDefinition {
  readonly kind: InstrumentKind;
  readonly unit: string;
  readonly description: string;
}

/**
 * Every metric diskdelta records. Alerts and the workbook in infra/ query these names; a name that is not listed
 * still reaches Application Insights, as a histogram without a unit.
 */
export const metricCatalog: Readonly<Record<string, MetricDefinition>> = {
  "diskdelta.run.bytes_copied": { kind: "histogram", unit: "By", description: "Bytes a BackupRun wrote to its TargetBlob" },
  "diskdelta.run.bytes_changed": { kind: "histogram", unit: "By", description: "Bytes of ChangedRanges a BackupRun found" },
  "diskdelta.run.requests": { kind: "histogram", unit: "{request}", description: "Page requests a BackupRun issued" },
  "diskdelta.run.duration_ms": { kind: "histogram", unit: "ms", description: "Time from a BackupRun's start to its RestorePoint" },
  "diskdelta.run.succeeded": { kind: "counter", unit: "{run}", description: "BackupRuns that recorded a RestorePoint" },
  "diskdelta.run.failed": { kind: "counter", unit: "{run}", description: "BackupRuns that ended failed" },
  "diskdelta.disk.rpo_seconds": { kind: "gauge", unit: "s", description: "Age of a ProtectedDisk's newest RestorePoint source snapshot" },
  "diskdelta.disk.rpo_exceeded": { kind: "gauge", unit: "1", description: "1 when a ProtectedDisk's RPO is above its rpoAlertMinutes, else 0" },
  "diskdelta.run.structure_mismatch": { kind: "gauge", unit: "1", description: "1 when a BackupRun's TargetBlob failed the structure check (no RestorePoint recorded), else 0" },
  "diskdelta.compute.throttled": { kind: "counter", unit: "{call}", description: "ARM compute answers 429 (throttled) this worker received, per throttling policy window" },
  "diskdelta.compute.paced_ms": { kind: "histogram", unit: "ms", description: "Time an ARM compute call waited for throttling budget before it was sent, per policy" },
  "diskdelta.drill.rto_seconds": { kind: "histogram", unit: "s", description: "A DR drill's measured RTO: requested to the drill disk verified" },
  "diskdelta.drill.succeeded": { kind: "counter", unit: "{drill}", description: "DR drills whose drill disk equalled its RestorePoint" },
  "diskdelta.drill.failed": { kind: "counter", unit: "{drill}", description: "DR drills that ended failed (restore failed, content differs, or lost)" },
  "diskdelta.drill.stale": { kind: "gauge", unit: "1", description: "1 when a ProtectedDisk with drills has no successful drill within two scheduled intervals, else 0" },
  "diskdelta.managed.completion_percent": { kind: "gauge", unit: "%", description: "completionPercent of a managed run's copy (CopyStart) at its last look" },
  "diskdelta.managed.copy_seconds": { kind: "histogram", unit: "s", description: "CopyStart to completed, per managed copy" },
  "diskdelta.managed.waiting_for_slot": { kind: "counter", unit: "{look}", description: "looks of managed runs that found no managed-copy slot free in their target region" },
  "diskdelta.verify.mismatch": { kind: "gauge", unit: "1", description: "1 when the last verification of a RestorePoint found a mismatch, else 0" },
};

const fallbackDefinition: MetricDefinition = { kind: "histogram", unit: "", description: "" };

/** Metrics kept in memory: the last values by name, for tests and the local tools. */
export interface MemoryMetrics extends Metrics {
  readonly values: { name: string; value: number; dimensions: Record<string, string> }[];
}

export function createMemoryMetrics(): MemoryMetrics {
  const values: MemoryMetrics["values"] = [];
  return {
    values,
    record(name, value, dimensions) {
      values.push({ name, value, dimensions });
      if (values.length > 10_000) values.splice(0, values.length - 10_000);
    },
  };
}

/** Records on OpenTelemetry instruments of `meter`, each created once, of the kind the catalog names. */
export function createOpenTelemetryMetrics(meter: Meter): Metrics {
  const instruments = new Map<string, (value: number, dimensions: Record<string, string>) => void>();
  const instrumentFor = (name: string) => {
    let record = instruments.get(name);
    if (!record) {
      const { kind, unit, description } = metricCatalog[name] ?? fallbackDefinition;
      const options = { unit, description };
      if (kind === "counter") {
        const counter = meter.createCounter(name, options);
        record = (value, dimensions) => counter.add(value, dimensions);
      } else if (kind === "gauge") {
        const gauge = meter.createGauge(name, options);
        record = (value, dimensions) => gauge.record(value, dimensions);
      } else {
        const histogram = meter.createHistogram(name, options);
        record = (value, dimensions) => histogram.record(value, dimensions);
      }
      instruments.set(name, record);
    }
    return record;
  };
  return {
    record(name, value, dimensions) {
      // OpenTelemetry counters refuse negative values and NaN would poison every aggregate.
      if (!Number.isFinite(value)) return;
      instrumentFor(name)(value, dimensions);
    },
  };
}

/** Where metrics go in Azure. */
export interface MetricsOptions {
  /** Application Insights connection string; APPLICATIONINSIGHTS_CONNECTION_STRING when absent; with neither, memory. */
  readonly connectionString?: string;
  /** Entra ID credential for ingestion; required when the Application Insights resource disables local auth. */
  readonly credential?: TokenCredential;
}

let azureMonitorMeter: Meter | undefined;

/**
 * Starts the Azure Monitor distro once per worker. Only metrics are wanted from it: the Functions host already
 * reports invocations, logs and performance counters, and a dependency record per Put Page From URL would cost
 * more than the backup it describes.
 */
function startAzureMonitor(connectionString: string, credential: TokenCredential | undefined): Meter {
  if (!azureMonitorMeter) {
    const off = { enabled: false };
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString, credential },
      enableLiveMetrics: false,
      enableStandardMetrics: false,
      enablePerformanceCounters: false,
      instrumentationOptions: { http: off, azureSdk: off, mongoDb: off, mySql: off, postgreSql: off, redis: off, redis4: off, bunyan: off, winston: off },
    });
    // Metrics are exported every minute; flush what is pending when the host shuts the worker down.
    app.hook.appTerminate(() => shutdownAzureMonitor());
    azureMonitorMeter = metrics.getMeter("diskdelta");
  }
  return azureMonitorMeter;
}

/** Application Insights when a connection string is given or set (APPLICATIONINSIGHTS_CONNECTION_STRING), memory otherwise. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const connectionString = options.connectionString ?? process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString) return createMemoryMetrics();
  return createOpenTelemetryMetrics(startAzureMonitor(connectionString, options.credential));
}
