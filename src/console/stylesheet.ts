/**
 * The console's stylesheet, served at /console.css. A string in a module rather than a .css file, so the
 * build (tsc to dist/) carries it without a copy step. Colours keep 4.5:1 contrast for text (axe checks it);
 * severity is a coloured edge plus a worded badge, never colour alone.
 */
export const CONSOLE_CSS = `
:root { --fg: #1d1c1d; --muted: #5e5d60; --line: #d9d9dc; --bg: #ffffff; --band: #f4f4f6;
  --critical: #b00b3a; --critical-bg: #fde7ee; --warning: #7a5200; --warning-bg: #fff3d6;
  --info: #045b7a; --info-bg: #e3f5fc; --other: #4a4a4a; --other-bg: #ececec;
  --ok: #11663f; --bad: #a3122b; --link: #0b57d0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
header { background: var(--band); border-bottom: 1px solid var(--line); padding: 8px 16px; }
nav { display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
nav .brand { font-weight: 700; margin-right: 8px; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--fg); }
.strip { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13px; }
.strip .label { font-weight: 600; }
.strip .ok::before { content: "● "; color: var(--ok); }
.strip .bad::before { content: "▲ "; color: var(--bad); }
.strip .bad { color: var(--bad); }
main { padding: 12px 16px 40px; }
h1 { font-size: 22px; margin: 8px 0 12px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
span.id, time { white-space: nowrap; }
td.deliveries { overflow-wrap: anywhere; min-width: 14em; }
caption { text-align: left; padding: 4px 0 8px; }
.outcome-dead_lettered { color: var(--bad); font-weight: 700; }
th { font-size: 13px; color: var(--muted); font-weight: 600; }
tr.sev-critical td:first-child { border-left: 6px solid var(--critical); }
tr.sev-warning td:first-child { border-left: 6px solid #d49b00; }
tr.sev-info td:first-child { border-left: 6px solid #1aa3d4; }
tr.sev-other td:first-child { border-left: 6px solid #8a8a8a; }
tr.resolved td { color: var(--muted); }
tr.resolved td:first-child { border-left-color: var(--line); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: .03em; }
.badge.sev-critical { color: var(--critical); background: var(--critical-bg); }
.badge.sev-warning { color: var(--warning); background: var(--warning-bg); }
.badge.sev-info { color: var(--info); background: var(--info-bg); }
.badge.sev-other { color: var(--other); background: var(--other-bg); }
.status { font-weight: 600; }
.status.firing { color: var(--bad); }
.status.resolved { color: var(--ok); }
.budget { display: inline-block; min-width: 3.5em; font-variant-numeric: tabular-nums; }
.budget.high { color: var(--bad); font-weight: 700; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; margin-bottom: 12px; }
form.filters label, form.action label { display: flex; flex-direction: column; font-size: 13px; font-weight: 600; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid #8f8f94; border-radius: 4px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: var(--fg); color: #fff; border-color: var(--fg); font-weight: 600; }
button.secondary { background: #fff; color: var(--fg); }
.actions { display: flex; flex-wrap: wrap; gap: 16px; margin: 12px 0; }
form.action { display: flex; gap: 8px; align-items: end; padding: 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--band); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
.notice { padding: 8px 12px; border-radius: 6px; background: var(--info-bg); color: var(--info); }
.problem { padding: 8px 12px; border-radius: 6px; background: var(--critical-bg); color: var(--critical); }
.pager { margin-top: 12px; display: flex; gap: 16px; }
code { font-size: 13px; }
`;
