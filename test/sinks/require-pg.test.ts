import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const LOADER = new URL('../../dist/src/sinks/require-pg.js', import.meta.url).href;

interface Seen {
  /** Whether Node's fetch implementation was loaded by the time pg was. */
  undiciLoaded: boolean;
  responseBefore: string;
  responseAfter: string;
  poolIsClass: boolean;
  copyFromIsFunction: boolean;
  /** `Response` still works after the load, for whoever uses it first. */
  responseStatus: number;
}

/** Loads pg and pg-copy-streams with the sink's importer in a fresh thread, where nothing touched `Response` yet. */
function loadInFreshThread(): Promise<Seen> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const kind = (d) => (d === undefined ? 'absent' : 'get' in d ? 'accessor' : typeof d.value);
    (async () => {
      const { requireHidingResponse } = await import(${JSON.stringify(LOADER)});
      const responseBefore = kind(Object.getOwnPropertyDescriptor(globalThis, 'Response'));
      const pg = (await requireHidingResponse('pg')).default;
      const copy = (await requireHidingResponse('pg-copy-streams')).default;
      const undiciLoaded = process.moduleLoadList.some((m) => m.includes('undici'));
      const responseAfter = kind(Object.getOwnPropertyDescriptor(globalThis, 'Response'));
      const responseStatus = new Response(null, { status: 204 }).status;
      parentPort.postMessage({
        undiciLoaded,
        responseBefore,
        responseAfter,
        poolIsClass: typeof pg.Pool === 'function',
        copyFromIsFunction: typeof copy.from === 'function',
        responseStatus,
      });
    })().catch((error) => parentPort.postMessage({ error: String(error) }));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true });
    worker.once('message', (message: Seen & { error?: string }) => {
      void worker.terminate();
      if (message.error) reject(new Error(message.error));
      else resolve(message);
    });
    worker.once('error', reject);
  });
}

describe('requireHidingResponse', () => {
  it('loads pg and pg-copy-streams without loading fetch, and leaves Response as it found it', async () => {
    const seen = await loadInFreshThread();
    expect(seen.poolIsClass).toBe(true);
    expect(seen.copyFromIsFunction).toBe(true);
    expect(seen.responseAfter).toBe(seen.responseBefore);
    expect(seen.responseStatus).toBe(204);
    if ((globalThis as { navigator?: unknown }).navigator === undefined) {
      // Node 20: without the hiding, pg's probe constructs a Response and loads undici.
      expect(seen.responseBefore).toBe('accessor');
      expect(seen.undiciLoaded).toBe(false);
    }
  });

  it('gives a missing package the error importOptional recognises as missing', async () => {
    const { requireHidingResponse } = await import('../../src/sinks/require-pg.js');
    const { importOptional } = await import('../../src/optional-package.js');
    await expect(
      importOptional(
        'sluice-no-such-package',
        'the postgres sink',
        ['sluice-no-such-package'],
        requireHidingResponse,
      ),
    ).rejects.toMatchObject({
      code: 'SLUICE_INVALID_OPTION',
      message: expect.stringContaining('npm install sluice-no-such-package'),
    });
    expect(Object.getOwnPropertyDescriptor(globalThis, 'Response')?.configurable).toBe(true);
  });
});
