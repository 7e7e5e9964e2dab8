/**
 * Preloaded (`node --require`, through NODE_OPTIONS) into every Node process the benchmark starts,
 * it runs once in the main thread and once in each worker thread. Node 20 gives its threads no
 * names — all are `node` in /proc — so each JavaScript thread writes its own thread id and role to
 * the file named by SLUICE_BENCH_THREAD_LOG; every other thread is one of V8's or libuv's.
 *
 * Before each worker thread is terminated and when the process exits, the main thread also writes
 * the CPU time of every live thread; at exit, of the process as a whole too. The last line of a
 * thread is its total.
 *
 *   start <tid> main|worker
 *   thread <tid> <cpu ns>         before a worker's termination and at exit, per live thread
 *   process <cpu clock ticks>     at exit
 */
import fs = require('node:fs');
import threads = require('node:worker_threads');

const log = process.env.SLUICE_BENCH_THREAD_LOG;

/** utime + stime of a stat line, in clock ticks. */
function ticks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** A `thread` line for every live thread of this process: nanoseconds on the CPU, from schedstat. */
function everyThread(): string {
  let lines = '';
  for (const task of fs.readdirSync('/proc/self/task')) {
    try {
      lines += `thread ${task} ${fs.readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[0]}\n`;
    } catch {
      // The thread ended between the listing and the read: its samples stand for it.
    }
  }
  return lines;
}

if (log) {
  // A synchronous call runs on the calling thread, so /proc/thread-self names this very thread.
  const tid = fs.readlinkSync('/proc/thread-self').split('/').pop();
  fs.appendFileSync(log, `start ${tid} ${threads.isMainThread ? 'main' : 'worker'}\n`);
  if (threads.isMainThread) {
    // A terminated worker thread runs no more JavaScript, so it cannot report itself: the main
    // thread reads every thread just before each termination (the worker is idle by then).
    const terminate = threads.Worker.prototype.terminate;
    threads.Worker.prototype.terminate = function (this: InstanceType<typeof threads.Worker>) {
      fs.appendFileSync(log, everyThread());
      return terminate.call(this);
    };
    process.on('exit', () => {
      fs.appendFileSync(
        log,
        `${everyThread()}process ${ticks(fs.readFileSync('/proc/self/stat', 'utf8'))}\n`,
      );
    });
  }
}
