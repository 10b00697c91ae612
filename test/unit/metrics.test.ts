import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { Metrics } from "../../src/engine/deps";
import { createMetrics, createOpenTelemetryMetrics, metricCatalog } from "../../src/host/metrics";

// A real OpenTelemetry SDK pipeline with the temporality the Azure Monitor exporter asks for (delta); only the
// network hop to Application Insights is left out.
describe("metrics through OpenTelemetry", () => {
  let exporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let provider: MeterProvider;
  let metrics: Metrics;

  beforeEach(() => {
    exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
    // The interval is never reached: the test flushes explicitly.
    reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    metrics = createOpenTelemetryMetrics(provider.getMeter("diskdelta"));
  });

  afterEach(() => provider.shutdown());

  async function exported(): Promise<Map<string, MetricData>> {
    await reader.forceFlush();
    const byName = new Map<string, MetricData>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  }

  test("when a BackupRun's sizes are recorded, then they are histograms in bytes per disk with sum, count, min and max", async () => {
    metrics.record("diskdelta.run.bytes_copied", 4 * 1024 * 1024, { diskKey: "a", copyMode: "server" });
    metrics.record("diskdelta.run.bytes_copied", 512, { diskKey: "a", copyMode: "server" });
    metrics.record("diskdelta.run.bytes_copied", 1024, { diskKey: "b", copyMode: "stream" });

    const metric = (await exported()).get("diskdelta.run.bytes_copied");
    assert.ok(metric);
    assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(metric.descriptor.unit, "By");
    const points = metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value as Histogram }));
    const a = points.find((p) => p.attributes.diskKey === "a");
    assert.deepEqual(a?.attributes, { diskKey: "a", copyMode: "server" });
    assert.equal(a?.value.sum, 4 * 1024 * 1024 + 512);
    assert.equal(a?.value.count, 2);
    assert.equal(a?.value.min, 512);
    assert.equal(a?.value.max, 4 * 1024 * 1024);
    assert.equal(points.find((p) => p.attributes.diskKey === "b")?.value.sum, 1024);
  });

  test("when runs fail, then the failures are a counter per disk", async () => {
    metrics.record("diskdelta.run.failed", 1, { diskKey: "a" });
    metrics.record("diskdelta.run.failed", 1, { diskKey: "a" });

    const metric = (await exported()).get("diskdelta.run.failed");
    assert.equal(metric?.dataPointType, DataPointType.SUM);
    assert.equal(metric?.dataPointType === DataPointType.SUM && metric.isMonotonic, true);
    assert.deepEqual(metric?.dataPoints.map((p) => [p.attributes.diskKey, p.value]), [["a", 2]]);
  });

  test("when the RPO of a disk is recorded twice, then the gauge keeps the latest value", async () => {
    metrics.record("diskdelta.disk.rpo_seconds", 900, { diskKey: "a" });
    metrics.record("diskdelta.disk.rpo_seconds", 60, { diskKey: "a" });

    const metric = (await exported()).get("diskdelta.disk.rpo_seconds");
    assert.equal(metric?.dataPointType, DataPointType.GAUGE);
    assert.equal(metric?.descriptor.unit, "s");
    assert.deepEqual(metric?.dataPoints.map((p) => p.value), [60]);
  });

  test("when a name is not in the catalog, then it is still exported, as a histogram", async () => {
    metrics.record("diskdelta.something.new", 3, { diskKey: "a" });
    assert.equal((await exported()).get("diskdelta.something.new")?.dataPointType, DataPointType.HISTOGRAM);
  });

  test("when a value is not a finite number, then it is dropped instead of poisoning the aggregate", async () => {
    metrics.record("diskdelta.run.duration_ms", Number.NaN, { diskKey: "a" });
    metrics.record("diskdelta.run.duration_ms", 1500, { diskKey: "a" });
    const point = (await exported()).get("diskdelta.run.duration_ms")?.dataPoints[0];
    assert.equal((point?.value as Histogram).count, 1);
    assert.equal((point?.value as Histogram).sum, 1500);
  });

  test("when every catalog entry is recorded, then each becomes its declared instrument kind and unit", async () => {
    for (const name of Object.keys(metricCatalog)) metrics.record(name, 1, { diskKey: "a" });
    const byName = await exported();
    const kinds = { histogram: DataPointType.HISTOGRAM, counter: DataPointType.SUM, gauge: DataPointType.GAUGE };
    for (const [name, definition] of Object.entries(metricCatalog)) {
      assert.equal(byName.get(name)?.dataPointType, kinds[definition.kind], name);
      assert.equal(byName.get(name)?.descriptor.unit, definition.unit, name);
    }
  });
});

describe("createMetrics", () => {
  test("when no Application Insights connection string is set, then values are kept in memory", () => {
    assert.equal(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, undefined, "the test process must not point at Application Insights");
    const metrics = createMetrics() as Metrics & { values?: unknown[] };
    metrics.record("diskdelta.run.failed", 1, { diskKey: "a" });
    assert.deepEqual(metrics.values, [{ name: "diskdelta.run.failed", value: 1, dimensions: { diskKey: "a" } }]);
  });
});
