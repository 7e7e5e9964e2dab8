import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sluiceBuild } from '../../src/harness/bench-environment.js';
import { environmentParts } from '../../src/harness/report/environment.js';

const ROOT = join(import.meta.dirname, '..', '..');
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('the bench names the Sluice that measured', () => {
  it("records Sluice's package version and its checkout's commit", () => {
    const { version, commit } = sluiceBuild(ROOT);
    expect(version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    expect(commit.replace(/-dirty$/, '')).toBe(git(ROOT, 'rev-parse', 'HEAD'));
  });

  it('does not take the commit of the repository Sluice is installed in', () => {
    // A user's repository with Sluice copied under node_modules, as npm installs it.
    const repo = mkdtempSync(join(tmpdir(), 'sluice-user-repo-'));
    dirs.push(repo);
    git(repo, 'init', '-q');
    writeFileSync(join(repo, 'app.js'), '\n');
    git(repo, 'add', '.');
    git(repo, '-c', 'user.name=u', '-c', 'user.email=u@example.com', 'commit', '-qm', 'app');
    const installed = join(repo, 'node_modules', 'sluice');
    cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
    expect(sluiceBuild(installed)).toEqual({
      version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
      commit: 'unknown',
    });
  });

  it('marks a checkout with local changes as dirty, and the caption keeps the mark', () => {
    const repo = mkdtempSync(join(tmpdir(), 'sluice-checkout-'));
    dirs.push(repo);
    git(repo, 'init', '-q');
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'sluice', version: '9.8.7' }));
    git(repo, 'add', '.');
    git(repo, '-c', 'user.name=u', '-c', 'user.email=u@example.com', 'commit', '-qm', 'v');
    const head = git(repo, 'rev-parse', 'HEAD');
    expect(sluiceBuild(repo)).toEqual({ version: '9.8.7', commit: head });
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'sluice', version: '9.8.8' }));
    const dirty = sluiceBuild(repo);
    expect(dirty).toEqual({ version: '9.8.8', commit: `${head}-dirty` });
    expect(
      environmentParts({ node: 'v20', cpus: 2, ...{ sluice: dirty.version }, commit: dirty.commit }, false),
    ).toEqual(['Sluice 9.8.8', 'Node v20', '2 CPUs', `commit ${head.slice(0, 12)}-dirty`]);
  });
});
