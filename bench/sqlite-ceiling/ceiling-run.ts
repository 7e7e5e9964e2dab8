/** How ceiling-script.ts inserts its rows (see there), and the JSON line it prints. */
export const MODES = ['row', 'statement', 'sink'] as const;
export type CeilingMode = (typeof MODES)[number];

export interface CeilingRun {
  mode: CeilingMode;
  events: number;
  /** Rows inserted in `seconds` (the rest warmed up first). */
  timed: number;
  /** Rows in the table at the end: every event once. */
  stored: number;
  seconds: number;
  /** The process's CPU (user + system) during the timed transactions. */
  cpuUs: number;
}
