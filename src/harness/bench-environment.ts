import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchEnvironment } from './bench-report.js';

/** The directory of Sluice's own package.json, found upwards from this module. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'sluice') return dir;
    } catch {
      // No package.json here, or not one that parses: keep looking upwards.
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function git(root: string, args: string[]): string {
  return execFileSync('git', ['-C', root, ...args], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
}

/**
 * Sluice's own version, and its commit when Sluice runs from a git checkout of itself — not the
 * commit of whatever directory the bench was started in (an installed package lives inside the
 * user's repository, whose commit says nothing about the Sluice that measured). A checkout with
 * uncommitted changes says so: `abc123…-dirty`.
 */
export function sluiceBuild(root = packageRoot()): { version: string; commit: string } {
  if (root === undefined) return { version: 'unknown', commit: 'unknown' };
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    // An unreadable package.json leaves the version unknown.
  }
  let commit = 'unknown';
  try {
    if (resolve(git(root, ['rev-parse', '--show-toplevel'])) === resolve(root))
      commit = git(root, ['describe', '--always', '--dirty', '--abbrev=40']);
  } catch {
    // Not a git checkout (an installed package), or no git: the commit stays unknown.
  }
  return { version, commit };
}

/** Where a figure was measured: Node, CPUs, Sluice's version and commit, date. */
export function benchEnvironment(): BenchEnvironment {
  const build = sluiceBuild();
  return {
    node: process.version,
    cpus: availableParallelism(),
    sluice: build.version,
    commit: build.commit,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    date: new Date().toISOString(),
  };
}
