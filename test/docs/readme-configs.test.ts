/**
 * Every complete config the README shows (a YAML block with a `source`) is one `sluice run` accepts,
 * and every fragment (a `sink:` block) is a valid sink: a user who copies them gets no surprise.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { RunConfigError } from '../../src/errors.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const blocks = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
const ENV = { DATABASE_URL: 'postgres://127.0.0.1:5432/test', INGEST_TOKEN: 'x' };

describe('the README’s configs', () => {
  it('has configs to check', () => {
    expect(blocks.filter((b) => /^source:/m.test(b)).length).toBeGreaterThanOrEqual(3);
  });

  it.each(blocks.map((b) => [b.split('\n')[0]!, b]))('%s', (_first, block) => {
    const parsed = parse(block) as Record<string, unknown>;
    if ('source' in parsed) {
      let problems: readonly string[] = [];
      try {
        resolveRunConfig(parsed, '/config', ENV, 'README');
      } catch (error) {
        if (!(error instanceof RunConfigError)) throw error;
        problems = error.errors;
      }
      expect(problems).toEqual([]);
    } else {
      expect(Object.keys(parsed)).toEqual(['sink']);
      expect(() => resolveSinkSpec(parsed.sink as never)).not.toThrow();
    }
  });
});
