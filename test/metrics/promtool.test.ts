/**
 * `promtool check metrics` — Prometheus's own linter for the text format and its naming rules —
 * on what the metrics server serves, after a run that gave every family samples: written events,
 * dead letters, retried sink failures, Node's process metrics. .ci/run provides promtool
 * (Debian's prometheus package, unpacked, nothing started); elsewhere the suite is skipped, saying so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMetricsServer } from '../../src/metrics/metrics-server.js';
import { fixtureUrl, useScenes } from '../helpers/engine.js';

function findPromtool(): string | undefined {
  const candidates = [process.env.SLUICE_PROMTOOL, 'promtool'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

const promtool = findPromtool();
if (!promtool && process.env.CI !== 'true')
  console.log(
    "promtool tests skipped: no promtool on PATH or in SLUICE_PROMTOOL (Debian's prometheus package has it)",
  );

describe.runIf(!promtool && process.env.CI === 'true')('promtool in CI', () => {
  it('is there to lint the metrics', () => {
    throw new Error('promtool is missing; .ci/run unpacks it from Debian’s prometheus package');
  });
});

describe.runIf(promtool)('promtool check metrics', () => {
  const newScene = useScenes();

  it('finds nothing to say about /metrics after a run with dead letters and retried failures', async () => {
    const s = newScene();
    const pipeline = await s.pipeline({
      workers: { min: 2, max: 2 },
      batch: { maxRecords: 20 },
      transform: fixtureUrl('behaviour-transform'),
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ failRate: 0.3, seed: 7 }) },
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
      metrics: { defaultMetrics: true },
    });
    const server = await createMetricsServer(pipeline, { port: 0 });
    try {
      await pipeline.pushMany(
        Array.from({ length: 400 }, (_, i) => ({
          id: `p-${i}`,
          payload: i % 50 === 0 ? { output: 'throw' } : { i },
        })),
      );
      await pipeline.drained();
      const text = await (await fetch(`${server.url}/metrics`)).text();
      // The run touched what the check should see: retries, dead letters and process metrics.
      expect(text).toMatch(/^sluice_sink_retries_total [1-9]/m);
      expect(text).toMatch(/^sluice_events_dead_lettered_total\{reason="transform-error"\} 8$/m);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
      const check = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect({ status: check.status, output: `${check.stdout}${check.stderr}` }).toEqual({
        status: 0,
        output: '',
      });
    } finally {
      await server.close();
    }
  });
});
