import { createDisplayClock, type DisplayClock } from '../domain/display-time.js';
import { formatElapsed } from '../domain/duration.js';
import type { CargoClass } from './catalog.js';
import type { AssetEntry, IncidentContext, ShipmentFacts } from './incident-context.js';

export interface FormatContextOptions {
  /** IANA zone for times shown (the policy's display_timezone); UTC unless the deployment says otherwise. */
  timeZone?: string | undefined;
}

/** One vehicle, shipment or place of an asset incident: a compact block of its own in a message. */
export interface AssetLines {
  /** "TRK-0042 · depot Rotterdam-North". */
  title: string;
  status: 'firing' | 'resolved';
  /** Who to call; renderers turn the phone into a tel: link (links.ts telUrl). */
  driver?: { name: string; phone?: string | undefined } | undefined;
  /** Short lines: per shipment what it carries, then its reading, budget and ETA. */
  facts: string[];
  /** This vehicle's dashboard (the catalog's vehicle_dashboard template). */
  dashboard?: string | undefined;
}

export interface ContextLines {
  heading: string;
  /** The catalog's first action, shown first in a message (next to the driver's phone for asset incidents). */
  firstAction?: string | undefined;
  /** Asset incidents: one block per vehicle, shipment or place. */
  assets: AssetLines[];
  /** The longer context (affects, impact, owner, escalation). Plain text, no markup: renderers escape. */
  lines: string[];
}

const SEPARATOR = ' · ';

/**
 * The context as short lines of text, shared by the Slack and email renderers so both say the same thing.
 * Infrastructure stays compact (2–4 lines); asset incidents get a block per vehicle. The runbook is not a
 * line: it is a link, chosen in one place (links.ts pickRunbook).
 */
export function formatContextLines(ctx: IncidentContext, options: FormatContextOptions = {}): ContextLines {
  const clock = createDisplayClock(options.timeZone, ctx.evaluatedAt.getTime());
  const firstAction = ctx.kind === 'unknown' ? undefined : ctx.firstAction;
  switch (ctx.kind) {
    case 'infrastructure':
      return { ...formatInfrastructure(ctx), firstAction, assets: [] };
    case 'asset':
      return {
        ...formatAsset(ctx),
        firstAction,
        assets: ctx.vehicles.map((e) => formatAssetEntry(e, ctx, clock)),
      };
    case 'unknown':
      return { ...formatUnknown(ctx), assets: [] };
  }
}

function formatInfrastructure(ctx: IncidentContext): { heading: string; lines: string[] } {
  const lines: string[] = [];
  if (ctx.capabilities.length > 0) lines.push(`Affects: ${ctx.capabilities.join(', ')}`);
  if (ctx.impact !== undefined) lines.push(`Impact: ${ctx.impact}`);
  if (ctx.owner !== undefined) lines.push(`Owner: ${ctx.owner}`);
  lines.push(...escalationLines(ctx));
  return {
    heading: `Dispatch impact${SEPARATOR}${ctx.service?.name ?? ctx.alertname ?? 'unknown service'}`,
    lines: lines.map(oneLine),
  };
}

function formatAsset(ctx: IncidentContext): { heading: string; lines: string[] } {
  const lines = escalationLines(ctx);
  if (ctx.unavailable !== undefined)
    lines.push(`Dispatch context unavailable (${ctx.unavailable.reason}); showing what the alert labels say`);
  if (ctx.impact !== undefined) lines.push(`Impact: ${ctx.impact}`);
  if (ctx.owner !== undefined) lines.push(`Owner: ${ctx.owner}`);
  return { heading: assetHeading(ctx), lines: lines.map(oneLine) };
}

function formatUnknown(ctx: IncidentContext): { heading: string; lines: string[] } {
  const lines = [
    `${ctx.alertname ?? 'This alert group'} has no entry in the context catalog`,
    ...escalationLines(ctx),
  ];
  return { heading: 'No catalog context', lines: lines.map(oneLine) };
}

function assetHeading(ctx: IncidentContext): string {
  const [only] = ctx.vehicles;
  const shipments = ctx.vehicles.flatMap((entry) => entry.shipments);
  const cargo = [
    ...new Set(
      shipments.map((shipment) => shipment.cargoClass?.label ?? shipment.cargoClassId).filter(Boolean),
    ),
  ];
  const what =
    ctx.vehicles.length === 1 && only !== undefined
      ? only.subject
      : `${ctx.vehicles.length} vehicles${SEPARATOR}${shipments.length} shipment${shipments.length === 1 ? '' : 's'}`;
  return ['Cold-chain cargo', what, ...(cargo.length > 0 ? [cargo.join(', ')] : [])].join(SEPARATOR);
}

function formatAssetEntry(entry: AssetEntry, ctx: IncidentContext, clock: DisplayClock): AssetLines {
  const title: string[] = [entry.subject];
  if (entry.vehicleId !== undefined && !entry.vehicleKnown && ctx.unavailable === undefined)
    title.push('not in the dispatch system');
  if (entry.depot !== undefined) title.push(`depot ${entry.depot}`);
  // In a group of several alert names, say which ones this vehicle has.
  if (ctx.alertname === undefined && entry.alertnames.length > 0) title.push(entry.alertnames.join(', '));
  if (entry.status === 'resolved')
    title.push(
      entry.endedAt === undefined ? 'resolved' : `resolved ${clock.format(entry.endedAt.getTime())}`,
    );

  const facts: string[] = [];
  if (entry.shipments.length === 0) {
    const reading = [readingText(entry), firingFor(entry)].filter(Boolean).join(' ');
    if (reading !== '') facts.push(reading);
  }
  for (const shipment of entry.shipments) facts.push(...formatShipment(shipment, entry, clock));
  return {
    title: oneLine(title.join(SEPARATOR)),
    status: entry.status,
    driver: entry.driver && { name: oneLine(entry.driver.name), phone: entry.driver.phone },
    facts: facts.map(oneLine),
    dashboard: entry.links.dashboard,
  };
}

/** "9.4 °C" while firing; "peaked at 9.4 °C" once resolved, so a past reading never reads as current. */
function readingText(entry: AssetEntry): string | undefined {
  if (entry.measuredTempC === undefined) return undefined;
  const value = formatCelsius(entry.measuredTempC);
  if (entry.status === 'resolved') return `peaked at ${value}`;
  return entry.peakTempC !== undefined && entry.peakTempC !== entry.measuredTempC
    ? `${value} (peak ${formatCelsius(entry.peakTempC)})`
    : value;
}

function formatShipment(shipment: ShipmentFacts, entry: AssetEntry, clock: DisplayClock): string[] {
  let head = shipment.id;
  if (shipment.customer !== undefined) head += ` for ${shipment.customer}`;
  if (shipment.description !== undefined) head += `: ${shipment.description}`;
  if (shipment.cargoClass !== undefined)
    head += ` (${shipment.cargoClass.label} ${formatRange(shipment.cargoClass)})`;
  else if (shipment.cargoClassId !== undefined) head += ` (${shipment.cargoClassId})`;

  const resolved = entry.status === 'resolved';
  const parts: string[] = [];
  const duration =
    shipment.budget !== undefined
      ? shipment.budget.elapsedMinutes
      : entry.status === 'firing'
        ? entry.firingMinutes
        : undefined;
  const reading = readingText(entry);
  const lasted = duration === undefined ? '' : ` for ${formatOutOfRange(duration)}`;
  if (reading !== undefined) {
    let text = reading;
    if (shipment.deviation?.direction === 'within') text += ', within range';
    else if (shipment.deviation !== undefined)
      text += `, ${formatCelsius(shipment.deviation.deltaC, true)} ${shipment.deviation.direction} range`;
    parts.push(resolved ? text : text + lasted);
    if (resolved && duration !== undefined) parts.push(`out of range${lasted}`);
  } else if (duration !== undefined) {
    parts.push(resolved ? `out of range${lasted}` : `firing${lasted}`);
  }
  if (shipment.budget !== undefined) {
    parts.push(
      `budget used ${Math.floor(shipment.budget.usedPct)}% of ${formatMinutes(shipment.budget.allowanceMinutes)}`,
    );
  }
  if (shipment.eta !== undefined) {
    const eta = shipment.eta.getTime();
    parts.push(
      // A past ETA says so ("ETA 14:20 UTC, 2h ago"); whether it beats the budget no longer matters then.
      `ETA ${clock.formatDue(eta)}${shipment.etaAfterBudget === true && !resolved && !clock.isPast(eta) ? ' (after budget runs out)' : ''}`,
    );
  }
  return parts.length > 0 ? [head, parts.join(SEPARATOR)] : [head];
}

function firingFor(entry: AssetEntry): string | undefined {
  return entry.status === 'firing' && entry.firingMinutes !== undefined
    ? `for ${formatMinutes(entry.firingMinutes)}`
    : undefined;
}

/** Minutes as elsewhere, but an excursion shorter than a minute says so instead of "0m". */
function formatOutOfRange(minutes: number): string {
  return minutes < 1 ? 'under 1m' : formatMinutes(minutes);
}

function escalationLines(ctx: IncidentContext): string[] {
  const { escalation } = ctx;
  if (escalation.reason === undefined) return [];
  const others = escalation.matches.length - 1;
  const more = others > 0 ? ` (+${others} more)` : '';
  const lead =
    escalation.severity !== undefined ? `Escalated to ${escalation.severity}` : 'Escalation rule matched';
  const lines = [`${lead}: ${escalation.reason}${more}`];
  if (escalation.addEmail.length > 0) lines.push(`Also notifying: ${escalation.addEmail.join(', ')}`);
  return lines;
}

export function formatRange(cargo: Pick<CargoClass, 'minC' | 'maxC'>): string {
  const { minC, maxC } = cargo;
  if (minC !== undefined && maxC !== undefined) {
    // "2–8 °C" reads well; "−25–−15" does not.
    return minC >= 0
      ? `${formatNumber(minC)}–${formatNumber(maxC)} °C`
      : `${formatNumber(minC)} to ${formatNumber(maxC)} °C`;
  }
  if (maxC !== undefined) return `≤ ${formatNumber(maxC)} °C`;
  if (minC !== undefined) return `≥ ${formatNumber(minC)} °C`;
  return 'no range';
}

export function formatCelsius(value: number, signed = false): string {
  const text = formatNumber(value);
  return `${signed && Math.round(value * 10) > 0 ? '+' : ''}${text} °C`;
}

/** One decimal at most, with a real minus sign. */
function formatNumber(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  const text = String(Math.abs(rounded));
  return rounded < 0 ? `−${text}` : text;
}

/** Whole minutes, rounded down, in the messages' one duration format (domain/duration.ts formatElapsed). */
export function formatMinutes(minutes: number): string {
  return formatElapsed(minutes * 60_000, 'down');
}

/** Label values are untrusted text; a newline in one must not split a line in two. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
