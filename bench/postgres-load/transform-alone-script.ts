/**
 * The cpu-heavy transform alone in one thread: the most one core does, and what the transform
 * costs per event. Two loops over the same lines, a chunk at a time, alternating which goes first:
 *   whole     decode + transform + serialise each line — what every system does per event at the
 *             least (the database's protocol aside); its rate is the ceiling for one core;
 *   baseline  decode + serialise, no transform.
 * The transform's own cost is their difference. Both keep nothing alive between lines, as a
 * stream does: timing the transform over events decoded beforehand instead would keep a chunk of
 * them alive through every scavenge, and measure the garbage collector copying them (on this
 * machine, half as much again, on V8's helper threads). The file is streamed; the first chunks
 * warm the JIT up and are not timed. Prints one JSON line.
 *
 *   node transform-alone-script.js FILE
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { decodeLine, transformLine } from './cpu-heavy-event.js';

const CHUNK = 1000;
const WARM_UP_CHUNKS = 5;

interface Span {
  seconds: number;
  cpuUs: number;
}

/** Adds the wall seconds and this process's CPU µs (every thread: GC helpers too) of `work` to `into`. */
function timed(into: Span, work: () => void): void {
  const cpu = process.cpuUsage();
  const started = performance.now();
  work();
  const used = process.cpuUsage(cpu);
  into.seconds += (performance.now() - started) / 1000;
  into.cpuUs += used.user + used.system;
}

const whole: Span = { seconds: 0, cpuUs: 0 };
const baseline: Span = { seconds: 0, cpuUs: 0 };
/** Uses every result, so no loop can be optimised away. */
let sink = 0;
let events = 0;
let chunks = 0;

function run(lines: string[]): void {
  const withTransform = () => {
    for (const line of lines) sink += transformLine(line).payload.length;
  };
  const without = () => {
    for (const line of lines) {
      const event = decodeLine(line);
      sink += JSON.stringify(event.payload).length;
    }
  };
  const chunk = chunks++;
  if (chunk < WARM_UP_CHUNKS) {
    withTransform();
    without();
    return;
  }
  if (chunk % 2 === 0) {
    timed(whole, withTransform);
    timed(baseline, without);
  } else {
    timed(baseline, without);
    timed(whole, withTransform);
  }
  events += lines.length;
}

let lines: string[] = [];
for await (const line of createInterface({
  input: createReadStream(process.argv[2]!),
  crlfDelay: Infinity,
})) {
  if (line === '') continue;
  lines.push(line);
  if (lines.length === CHUNK) {
    run(lines);
    lines = [];
  }
}
if (lines.length > 0) run(lines);
process.stdout.write(`${JSON.stringify({ events, whole, baseline, sink })}\n`);
