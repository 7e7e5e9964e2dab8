import type { PipelineMetricsOptions } from '../metrics/pipeline-metrics.js';
import { markResolved } from '../resolved-marker.js';
import { boolean, integer, MAX_TIMER_MS, strictObject } from './option-schema.js';

export type ResolvedPipelineMetricsOptions = Required<PipelineMetricsOptions>;

export const DEFAULT_PIPELINE_METRICS_OPTIONS: Readonly<ResolvedPipelineMetricsOptions> = Object.freeze({
  defaultMetrics: false,
  enabled: true,
  sinkDownAfterMs: 10_000,
});

/** `pipeline.metrics` options, validated and with every default filled in. */
export const pipelineMetricsOptionsSchema = strictObject({
  defaultMetrics: boolean().default(DEFAULT_PIPELINE_METRICS_OPTIONS.defaultMetrics),
  enabled: boolean().default(DEFAULT_PIPELINE_METRICS_OPTIONS.enabled),
  sinkDownAfterMs: integer(0, MAX_TIMER_MS, 'an integer of milliseconds ≥ 0').default(
    DEFAULT_PIPELINE_METRICS_OPTIONS.sinkDownAfterMs,
  ),
}).transform((metrics): ResolvedPipelineMetricsOptions => markResolved('metrics', metrics));
