import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * One Prometheus text exposition from the registries of several threads and processes. The
 * main and delivery threads' series differ by the `thread` label, so they are not summed; the
 * listener workers all say `thread="listener"`, so theirs are (prom-client's aggregators: sums
 * for counters, histograms and open sessions). Families are merged so each name has one HELP
 * and TYPE, as the format requires.
 */
export async function mergeExpositions(snapshots: MetricsSnapshot[]): Promise<string> {
  const merged: Registry = AggregatorRegistry.aggregate(snapshots);
  return merged.metrics();
}

export const EXPOSITION_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
