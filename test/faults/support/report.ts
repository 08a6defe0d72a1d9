/**
 * The figures of each scenario, written as one JSON file per scenario under test/faults/.report/ (gitignored)
 * and rendered as a table by `npm run reliability:report` (test/faults/render-report.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Ledger } from './accounting.js';

export const REPORT_DIR = fileURLToPath(new URL('../.report/', import.meta.url));

export interface ScenarioFigures {
  id: string;
  /** What was done, in one line. */
  fault: string;
  accepted: number;
  notifications: number;
  delivered: number;
  deadLettered: number;
  lost: number;
  slackDuplicates: number;
  emailDuplicates: number;
  /** Relay or Redis processes killed during the scenario. */
  crashes: number;
  longestToOutcomeMs: number;
  /** Scenario-specific counts (faults injected, retries seen, reminders sent…). */
  notes: Record<string, number | string>;
  /** The first failed assertion, or undefined when every guarantee held. */
  failure?: string;
  finishedAt: string;
  machine: string;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

export function writeFigures(
  id: string,
  fault: string,
  ledger: Ledger,
  accepted: number,
  crashes: number,
  notes: Record<string, number | string> = {},
  failure?: unknown,
): ScenarioFigures {
  const figures: ScenarioFigures = {
    id,
    fault,
    accepted,
    notifications: ledger.notifications.length,
    delivered: ledger.delivered,
    deadLettered: ledger.deadLettered,
    lost: ledger.lost,
    slackDuplicates: ledger.slackDuplicates,
    emailDuplicates: ledger.emailDuplicates,
    crashes,
    longestToOutcomeMs: ledger.longestToOutcomeMs,
    notes,
    failure:
      failure === undefined ? undefined : ((failure as Error).message ?? String(failure)).split('\n')[0],
    finishedAt: new Date().toISOString(),
    machine: machine(),
  };
  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(`${REPORT_DIR}${id}.json`, `${JSON.stringify(figures, null, 2)}\n`);
  return figures;
}
