/**
 * The cpu-heavy transform alone in one thread: the most one core does, and what the transform
 * costs per event. Lines are read and both loops warmed up first; then, timed separately, the
 * transform alone over events already decoded, and decode + transform + serialise (what every system does per event at the
 * least, the database's protocol aside). Prints one JSON line.
 *
 *   node transform-alone-script.js FILE
 */
import { readFileSync } from 'node:fs';
import cpuHeavy from '../load/transforms/cpu-heavy.js';
import { decodeLine, transformLine } from './cpu-heavy-event.js';

const lines = readFileSync(process.argv[2]!, 'utf8').split('\n').filter(Boolean);

/** Adds the wall seconds and this process's CPU µs (every thread: GC helpers too) of `work` to `into`. */
function timed(into: { seconds: number; cpuUs: number }, work: () => void): void {
  const cpu = process.cpuUsage();
  const started = performance.now();
  work();
  const used = process.cpuUsage(cpu);
  into.seconds += (performance.now() - started) / 1000;
  into.cpuUs += used.user + used.system;
}

const WARM_UP = 5000;
/** Decoded a chunk at a time, so no more than a chunk of events is ever held: GC works as in a stream. */
const CHUNK = 1000;
let sink = 0;
// JIT-compile both loops first, on events of their own (the transform adds fields to its input):
// a timed loop would otherwise pay V8's compilation, on the helper threads too.
for (const line of lines.slice(0, WARM_UP)) {
  sink += (cpuHeavy(decodeLine(line)).payload as { digest: string }).digest.length;
  sink += transformLine(line).payload.length;
}
const transform = { seconds: 0, cpuUs: 0 };
for (let at = 0; at < lines.length; at += CHUNK) {
  const events = lines.slice(at, at + CHUNK).map(decodeLine);
  timed(transform, () => {
    for (const event of events) sink += (cpuHeavy(event).payload as { digest: string }).digest.length;
  });
}
const whole = { seconds: 0, cpuUs: 0 };
timed(whole, () => {
  for (const line of lines) sink += transformLine(line).payload.length;
});
process.stdout.write(`${JSON.stringify({ events: lines.length, transform, whole, sink })}\n`);
