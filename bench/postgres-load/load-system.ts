import type { ThreadRoles } from './thread-roles.js';

/** One load of the event file into a fresh table, as a system is asked to do it. */
export interface LoadJob {
  /** The NDJSON file. */
  file: string;
  /** Lines in it: the rows the table must hold afterwards. */
  events: number;
  /** The system's own table for this run, created by the system and dropped afterwards. */
  table: string;
  databaseUrl: string;
  /** Every process of the run is killed past this. */
  timeoutMs: number;
  /** A directory of the run's own, removed afterwards: configs, scripts, thread logs. */
  workDir: string;
  round: number;
}

/** CPU of one client process, by thread role when it is a Node process. */
export interface ProcessCpu {
  label: string;
  roles?: ThreadRoles;
}

/** What a system reports of one run; the harness adds CPU, WAL and the table's rows. */
export interface SystemRun {
  /** The timed span, s: spawn to exit unless the system says otherwise (`timedFrom`). */
  seconds: number;
  /** What `seconds` spans. */
  timedFrom: string;
  /** When the timed span began, ms since the epoch. */
  startedAtMs: number;
  /** Why the run does not count, if it does not. */
  failure?: string;
  processes: ProcessCpu[];
  /** Anything else the system reported (Sluice's summary line). */
  notes?: Record<string, unknown>;
}

/** A way of doing the job, as a user would pick it. */
export interface LoadSystem {
  name: string;
  /** One line: what runs. */
  describe: string;
  /**
   * Rows commit batch by batch, so the latest `written_at` (the start of the last inserting
   * transaction) tells when the last row went in.
   */
  commitsAsItGoes?: boolean;
  /** Why it cannot run on this machine, or undefined when it can. */
  unavailable?(): Promise<string | undefined>;
  run(job: LoadJob): Promise<SystemRun>;
}
