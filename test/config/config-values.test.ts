/**
 * A config file's values are walked before validation (`${NAME}` filled in): a value that holds
 * itself — a YAML alias inside its own anchor — or nests deeper than any config is a problem named
 * by its field, as every other problem of the file (`sluice validate`/`run` exit 64), not a stack
 * overflow reported as an internal error (exit 70).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { interpolate, type Json, MAX_CONFIG_DEPTH } from '../../src/config/config-values.js';
import { loadRunConfig } from '../../src/config/run-config.js';
import { RunConfigError } from '../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-config-values-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every problem loading `text` as the config file `name` reports. */
function problemsOfFile(name: string, text: string): readonly string[] {
  const path = join(dir, name);
  writeFileSync(path, text);
  try {
    loadRunConfig(path, {});
  } catch (error) {
    if (error instanceof RunConfigError) return error.errors;
    throw error;
  }
  return [];
}

describe('config values that cannot be walked', () => {
  it('a YAML alias inside its own anchor is a problem naming the field', () => {
    expect(problemsOfFile('self.yaml', 'a: &a [*a]\n')).toContain(
      'a[0] is a itself, which holds it (a YAML alias inside its own anchor): a value without end',
    );
    const problems = problemsOfFile(
      'sink.yaml',
      'source: { type: synthetic }\nsink: &s { type: ndjson, path: out.ndjson, again: *s }\n',
    );
    expect(problems).toContain(
      'sink.again is sink itself, which holds it (a YAML alias inside its own anchor): a value without end',
    );
  });

  it('an alias used twice, not inside its own anchor, is a value like any other', () => {
    const problems = problemsOfFile(
      'twice.yaml',
      'source: { type: synthetic }\nsink: &s { type: ndjson, path: out.ndjson }\ndeadLetter: *s\n',
    );
    expect(problems).toEqual([]);
  });

  it('a value nested deeper than any config is a problem naming where, however deep the file goes', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const problems = problemsOfFile('deep.json', `{"source":{"type":"synthetic"},"x":${deep}}`);
    expect(problems).toContain(
      `x${'[0]'.repeat(MAX_CONFIG_DEPTH - 1)} nests more than ${MAX_CONFIG_DEPTH} levels deep`,
    );
  });

  it('replaces what it refuses with null, so that what validates the rest walks no cycle', () => {
    const cyclic: Record<string, Json> = { name: 'n' };
    cyclic.self = cyclic;
    const errors: string[] = [];
    expect(interpolate({ sink: cyclic }, [], {}, errors)).toEqual({ sink: { name: 'n', self: null } });
    expect(errors).toEqual([
      'sink.self is sink itself, which holds it (a YAML alias inside its own anchor): a value without end',
    ]);
  });
});
