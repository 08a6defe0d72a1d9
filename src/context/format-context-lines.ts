import { formatElapsed } from '../domain/duration.js';
import type { CargoClass } from './catalog.js';
import type { AssetEntry, IncidentContext, ShipmentFacts } from './incident-context.js';

export interface FormatContextOptions {
  /** IANA zone for times shown; UTC unless the deployment says otherwise. */
  timeZone?: string;
}

export interface ContextLines {
  heading: string;
  /** Plain text, no markup: each renderer escapes for its own format. */
  lines: string[];
}

const SEPARATOR = ' · ';

/**
 * The context as short lines of text, shared by the Slack and email renderers so both say the
 * same thing. Infrastructure stays compact (2–4 lines); asset incidents get a line per vehicle.
 */
export function formatContextLines(ctx: IncidentContext, options: FormatContextOptions = {}): ContextLines {
  const clock = createClock(options.timeZone ?? 'UTC', ctx.evaluatedAt);
  switch (ctx.kind) {
    case 'infrastructure':
      return formatInfrastructure(ctx);
    case 'asset':
      return formatAsset(ctx, clock);
    case 'unknown':
      return formatUnknown(ctx);
  }
}

function formatInfrastructure(ctx: IncidentContext): ContextLines {
  const lines: string[] = [];
  if (ctx.capabilities.length > 0) lines.push(`Affects: ${ctx.capabilities.join(', ')}`);
  if (ctx.impact !== undefined) lines.push(`Impact: ${ctx.impact}`);
  lines.push(...ownerAndFirstAction(ctx), ...escalationLines(ctx));
  if (ctx.runbook !== undefined) lines.push(`Runbook: ${ctx.runbook}`);
  return {
    heading: `Dispatch impact${SEPARATOR}${ctx.service?.name ?? ctx.alertname ?? 'unknown service'}`,
    lines: lines.map(oneLine),
  };
}

function formatAsset(ctx: IncidentContext, clock: Clock): ContextLines {
  const lines = ctx.vehicles.map((entry) => formatAssetEntry(entry, ctx, clock));
  lines.push(...escalationLines(ctx));
  if (ctx.unavailable !== undefined)
    lines.push(`Dispatch context unavailable (${ctx.unavailable.reason}); showing what the alert labels say`);
  if (ctx.impact !== undefined) lines.push(`Impact: ${ctx.impact}`);
  lines.push(...ownerAndFirstAction(ctx));
  if (ctx.runbook !== undefined) lines.push(`Runbook: ${ctx.runbook}`);
  return { heading: assetHeading(ctx), lines: lines.map(oneLine) };
}

function formatUnknown(ctx: IncidentContext): ContextLines {
  const lines = [
    `${ctx.alertname ?? 'This alert group'} has no entry in the context catalog`,
    ...escalationLines(ctx),
  ];
  if (ctx.runbook !== undefined) lines.push(`Runbook: ${ctx.runbook}`);
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

function formatAssetEntry(entry: AssetEntry, ctx: IncidentContext, clock: Clock): string {
  const parts: string[] = [entry.subject];
  if (entry.vehicleId !== undefined && !entry.vehicleKnown && ctx.unavailable === undefined)
    parts.push('not in the dispatch system');
  if (entry.driver !== undefined) parts.push(`driver ${entry.driver.name}`);
  if (entry.depot !== undefined) parts.push(`depot ${entry.depot}`);
  // In a group of several alert names, say which ones this vehicle has.
  if (ctx.alertname === undefined && entry.alertnames.length > 0) parts.push(entry.alertnames.join(', '));

  if (entry.shipments.length === 0) {
    const reading = [
      entry.measuredTempC === undefined ? undefined : formatCelsius(entry.measuredTempC),
      firingFor(entry),
    ]
      .filter(Boolean)
      .join(' ');
    if (reading !== '') parts.push(reading);
  }
  for (const shipment of entry.shipments) parts.push(...formatShipment(shipment, entry, clock));
  if (entry.status === 'resolved') parts.push('resolved');
  return parts.join(SEPARATOR);
}

function formatShipment(shipment: ShipmentFacts, entry: AssetEntry, clock: Clock): string[] {
  let head = shipment.id;
  if (shipment.customer !== undefined) head += ` for ${shipment.customer}`;
  if (shipment.description !== undefined) head += `: ${shipment.description}`;
  if (shipment.cargoClass !== undefined)
    head += ` (${shipment.cargoClass.label} ${formatRange(shipment.cargoClass)})`;
  else if (shipment.cargoClassId !== undefined) head += ` (${shipment.cargoClassId})`;
  const parts = [head];

  const duration =
    shipment.budget !== undefined
      ? shipment.budget.elapsedMinutes
      : entry.status === 'firing'
        ? entry.firingMinutes
        : undefined;
  if (entry.measuredTempC !== undefined) {
    let reading = formatCelsius(entry.measuredTempC);
    if (shipment.deviation?.direction === 'within') reading += ', within range';
    else if (shipment.deviation !== undefined)
      reading += `, ${formatCelsius(shipment.deviation.deltaC, true)} ${shipment.deviation.direction} range`;
    if (duration !== undefined) reading += ` for ${formatMinutes(duration)}`;
    parts.push(reading);
  } else if (duration !== undefined) {
    parts.push(`firing for ${formatMinutes(duration)}`);
  }
  if (shipment.budget !== undefined) {
    parts.push(
      `budget used ${Math.floor(shipment.budget.usedPct)}% of ${formatMinutes(shipment.budget.allowanceMinutes)}`,
    );
  }
  if (shipment.eta !== undefined) {
    parts.push(
      `ETA ${clock.format(shipment.eta)}${shipment.etaAfterBudget === true ? ' (after budget runs out)' : ''}`,
    );
  }
  return parts;
}

function firingFor(entry: AssetEntry): string | undefined {
  return entry.status === 'firing' && entry.firingMinutes !== undefined
    ? `for ${formatMinutes(entry.firingMinutes)}`
    : undefined;
}

function ownerAndFirstAction(ctx: IncidentContext): string[] {
  const parts = [
    ...(ctx.owner === undefined ? [] : [`Owner: ${ctx.owner}`]),
    ...(ctx.firstAction === undefined ? [] : [`First action: ${ctx.firstAction}`]),
  ];
  return parts.length === 0 ? [] : [parts.join(SEPARATOR)];
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

interface Clock {
  /** "14:20 UTC", or "27 Nov 14:20 UTC" when not on the same day as the evaluation. */
  format(time: Date): string;
}

interface ZoneFormatters {
  timeZone: string;
  time: Intl.DateTimeFormat;
  day: Intl.DateTimeFormat;
  calendarDay: Intl.DateTimeFormat;
  zone: Intl.DateTimeFormat;
}

/**
 * Building a DateTimeFormat costs far more than using one (about 15% of a delivery's CPU when built per
 * message), and a relay uses one or two zones: kept per requested zone for the life of the process.
 */
const formattersByZone = new Map<string, ZoneFormatters>();

function formattersFor(requestedZone: string): ZoneFormatters {
  let found = formattersByZone.get(requestedZone);
  if (!found) {
    const timeZone = isKnownTimeZone(requestedZone) ? requestedZone : 'UTC';
    found = {
      timeZone,
      time: new Intl.DateTimeFormat('en-GB', {
        timeZone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }),
      day: new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short' }),
      calendarDay: new Intl.DateTimeFormat('en-GB', {
        timeZone,
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
      }),
      zone: new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'short' }),
    };
    // Zone names come from configuration, but bound the map anyway.
    if (formattersByZone.size < 64) formattersByZone.set(requestedZone, found);
  }
  return found;
}

function createClock(requestedZone: string, now: Date): Clock {
  const { timeZone, time, day, calendarDay, zone } = formattersFor(requestedZone);
  const today = calendarDay.format(now);
  return {
    format(instant) {
      const zoneName =
        zone.formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? timeZone;
      const date = calendarDay.format(instant) === today ? '' : `${day.format(instant)} `;
      return `${date}${time.format(instant)} ${zoneName}`;
    },
  };
}

/** A mistyped zone must cost the message its local times, not the whole message. */
function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Label values are untrusted text; a newline in one must not split a line in two. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
