import type { PipelineMetricsOptions } from '../metrics/pipeline-metrics.js';
import { markResolved } from '../resolved-marker.js';
import { boolean, strictObject } from './option-schema.js';

export type ResolvedPipelineMetricsOptions = Required<PipelineMetricsOptions>;

export const DEFAULT_PIPELINE_METRICS_OPTIONS: Readonly<ResolvedPipelineMetricsOptions> = Object.freeze({
  defaultMetrics: false,
  enabled: true,
});

/** `pipeline.metrics` options, validated and with every default filled in. */
export const pipelineMetricsOptionsSchema = strictObject({
  defaultMetrics: boolean().default(DEFAULT_PIPELINE_METRICS_OPTIONS.defaultMetrics),
  enabled: boolean().default(DEFAULT_PIPELINE_METRICS_OPTIONS.enabled),
}).transform((metrics): ResolvedPipelineMetricsOptions => markResolved('metrics', metrics));
