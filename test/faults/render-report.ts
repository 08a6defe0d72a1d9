/**
 * `npm run reliability:report`: the figures of the last `npm run test:faults` (test/faults/.report/*.json)
 * as the Markdown table RELIABILITY.md publishes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { REPORT_DIR, type ScenarioFigures } from './support/report.js';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Whether the scenario met the goals: nothing lost; no duplicate without a crash; none on Slack; ≤ 1 email per crash per delivery. */
function held(f: ScenarioFigures): string {
  if (f.lost > 0) return `**no: ${f.lost} lost**`;
  if (f.slackDuplicates > 0) return `**no: ${f.slackDuplicates} Slack duplicates**`;
  if (f.crashes === 0 && f.emailDuplicates > 0) return `**no: ${f.emailDuplicates} email duplicates**`;
  if (f.failure) return `**no**: ${f.failure.replaceAll('|', '\\|')}`;
  return 'yes';
}

const files = existsSync(REPORT_DIR) ? readdirSync(REPORT_DIR).filter((f) => f.endsWith('.json')) : [];
if (files.length === 0) {
  process.stderr.write('no figures yet: run `npm run test:faults` first\n');
  process.exit(1);
}
const figures = files
  .map((f) => JSON.parse(readFileSync(`${REPORT_DIR}${f}`, 'utf8')) as ScenarioFigures)
  .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));

const rows = [
  '| scenario | fault | accepted webhooks | notifications | delivered | dead-lettered | lost | Slack dup. | email dup. | crashes | longest to outcome | held |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...figures.map(
    (f) =>
      `| ${f.id} | ${f.fault} | ${f.accepted} | ${f.notifications} | ${f.delivered} | ${f.deadLettered} | ${f.lost} | ${f.slackDuplicates} | ${f.emailDuplicates} | ${f.crashes} | ${seconds(f.longestToOutcomeMs)} | ${held(f)} |`,
  ),
];
const total = (key: 'accepted' | 'notifications' | 'delivered' | 'deadLettered' | 'lost') =>
  figures.reduce((n, f) => n + f[key], 0);
process.stdout.write(
  `${rows.join('\n')}\n\nTotal: ${total('accepted')} webhooks accepted, ${total('notifications')} notifications, ` +
    `${total('delivered')} delivered, ${total('deadLettered')} dead-lettered, ${total('lost')} lost. ` +
    `Machine: ${figures[0]!.machine}; last scenario finished ${figures.at(-1)!.finishedAt}.\n`,
);
