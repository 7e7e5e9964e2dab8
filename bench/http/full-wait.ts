/**
 * What the http source's `fullWaitMs` does for clients that ignore Retry-After and send a refused
 * body again at once (load tools such as autocannon, naive scripts): `connections` such clients
 * post 200-event bodies as fast as they are answered, resending what a 429 refused; the server
 * (a child process) writes to SQLite through one worker and a 1 MiB ring, so the ring is full
 * most of the time. Runs each `fullWaitMs` in turn, `rounds` times, and prints one JSON line per
 * run: accepted events/s, requests per accepted event, server and client CPU per accepted event.
 *
 *   npm run bench:http-full-wait -- [seconds=5] [connections=8] [rounds=3] [waits=0,50,100,250,1000]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { availableParallelism } from 'node:os';

const [seconds = 5, connections = 8, rounds = 3] = process.argv.slice(2, 5).map(Number);
const waits = (process.argv[5] ?? '0,50,100,250,1000').split(',').map(Number);
const EVENTS_PER_BODY = 200;

interface Answer {
  status: number;
  accepted: number;
  rejected: number;
}

function post(agent: http.Agent, port: number, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/ingest',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-ndjson' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString()) as {
            accepted?: number;
            rejected?: number;
          };
          resolve({
            status: response.statusCode ?? 0,
            accepted: answer.accepted ?? 0,
            rejected: answer.rejected ?? 0,
          });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function run(fullWaitMs: number): Promise<Record<string, number>> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = fork(new URL('./full-wait-server.js', import.meta.url), [String(fullWaitMs), String(port)]);
  await new Promise((resolve) => server.once('message', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  let seq = 0;
  let requests = 0;
  let accepted = 0;
  const end = performance.now() + seconds * 1000;
  const clientCpu = process.cpuUsage();
  const started = performance.now();
  const client = async () => {
    while (performance.now() < end) {
      let lines = Array.from({ length: EVENTS_PER_BODY }, (_, i) =>
        JSON.stringify({ id: `e${seq++}`, payload: { pad: 'x'.repeat(80), i } }),
      );
      while (lines.length > 0 && performance.now() < end) {
        requests++;
        const answer = await post(agent, port, `${lines.join('\n')}\n`);
        accepted += answer.accepted;
        // Retry-After ignored: what was refused goes again at once.
        lines = answer.status === 200 ? [] : lines.slice(lines.length - answer.rejected);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  const wallS = (performance.now() - started) / 1000;
  const client_ = process.cpuUsage(clientCpu);
  server.send('stop');
  const result = await new Promise<{ cpuMs: number }>((resolve) =>
    server.on('message', (message) => typeof message === 'object' && resolve(message as { cpuMs: number })),
  );
  agent.destroy();
  return {
    fullWaitMs,
    acceptedPerSec: Math.round(accepted / wallS),
    requestsPerAcceptedEvent: +(requests / accepted).toFixed(4),
    serverCpuUsPerEvent: +((1000 * result.cpuMs) / accepted).toFixed(2),
    clientCpuUsPerEvent: +((client_.user + client_.system) / accepted).toFixed(2),
  };
}

console.error(
  `http source, clients ignoring Retry-After: ${connections} connections, ${seconds} s per run, ` +
    `${rounds} rounds, 1 worker, ${availableParallelism()} CPUs`,
);
for (let round = 0; round < rounds; round++)
  for (const wait of waits) console.log(JSON.stringify({ round: round + 1, ...(await run(wait)) }));
