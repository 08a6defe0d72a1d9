/**
 * What the relay remembers per delivery (the delivery log) and per incident (the flags), as data. The
 * store keeps them in Redis (store/delivery-store.ts); everything else reads and plans over these shapes.
 */
import type { FlapShown } from './flapping.js';
import type { AlertStatus, DeliveryTarget } from './model.js';

export type DeliveryOutcome = 'delivered' | 'previewed' | 'dead_lettered';

export interface DeliveryEvent {
  at: number;
  action: string;
  outcome: DeliveryOutcome;
  detail?: string;
}

export interface ToldState {
  status: AlertStatus;
  truncatedAlerts: number;
  /** alert key (fingerprint@startsAt) → status last communicated. */
  alerts: Record<string, AlertStatus>;
}

export interface DeliveryLog {
  /** The first message: Slack channel id + ts, or the first email's Message-ID and subject. */
  root?: {
    channel?: string;
    ts?: string;
    /** Slack: the thread the root is a reply in (a storm digest's), where its own replies go too. */
    thread?: string;
    messageId?: string;
    subject?: string;
    at: number;
  };
  /** Set once the storm and flapping decisions for the first message were taken (channels/episodes.ts). */
  decided?: boolean;
  /** The storm digest this delivery's first message was folded into (domain/storm.ts). */
  storm?: string;
  /**
   * Slack: the storm digest that also lists this incident, which posts its own message in the channel but
   * was still waiting for the pace when the storm began (the digest shows every incident of the storm).
   */
  listed?: string;
  /** A flapping episode: the earlier episode's message it reuses, and the counter it shows (domain/flapping.ts). */
  flap?: FlapShown & {
    message: { channel?: string; ts?: string; messageId?: string; subject?: string; references?: string[] };
  };
  /** Email thread: every Message-ID sent so far, oldest first. */
  references: string[];
  /** Hash of the Slack root message as last rendered, so an unchanged incident causes no chat.update. */
  renderedHash?: string;
  told?: ToldState;
  /** The reminder clock: the last message that notified people (first, change or reminder). */
  lastNotifiedAt?: number;
  /** Set when Alertmanager said the alerts are silenced/inhibited/gone and a reminder was skipped. */
  reminderCheckedAt?: number;
  reminders: number;
  staleNotified: boolean;
  acknowledgedNotified?: boolean;
  /** Keys of the incident notices (escalations, lapses) this delivery has told, or that its first message carried. */
  noticesTold?: string[];
  /**
   * Written before a send and cleared once its result is known; found set on the next run, the earlier
   * attempt may have been delivered. For a Slack root, `since` is when the first of consecutive such attempts
   * went out (the look-up window starts there) and `channel` the channel id when it was known.
   */
  inFlight?: { action: string; at: number; since?: number; channel?: string };
  /**
   * After a Slack root whose earlier attempt may have been delivered: until `until` (ms), reconciles look in
   * the channel's history for copies Slack committed late (posted from `since` on) and delete all but
   * `root`; `counted` holds the ts of copies already counted as duplicates.
   */
  verifyRoot?: { since: number; until: number; counted: string[] };
  lastOutcome?: DeliveryOutcome;
  events: DeliveryEvent[];
}

export interface IncidentFlags {
  /** Covers the alerts firing when it was given: a new alert resumes reminders (it is new information). */
  acknowledged?: {
    by: string;
    at: number;
    alertKeys: string[];
    truncatedAlerts: number;
    /** How it was given ("email link", "Slack"), for the timeline. */
    via?: string;
  };
  /** Reminders pause until this time (ms); a silence made from Slack sets it. */
  silencedUntil?: number;
  silences?: { alertmanager: string; id: string; until: number; matched: number; by: string }[];
  /** Destinations added after the first notification (escalation); destinations only grow. */
  extraDeliveries?: DeliveryTarget[];
  /** The catalog's escalation rule (budget thresholds); `at` is when its condition became true. */
  escalation?: { rule: string; reason: string; severity?: string; at?: number; notified?: string[] };
  /** The route's `escalate:` ladder (issue 12): the steps taken so far, each once per incident. */
  ladder?: LadderState;
  /** Acknowledgements that lapsed after `ack_timeout` (the ladder's clock restarts at the last lapse). */
  ackLapses?: { by: string; at: number }[];
}

export interface LadderStepTaken {
  /** Index of the step in the route's `escalate:` list. */
  step: number;
  /** When the step was taken (ms). */
  at: number;
  /** The step's `after` when it was taken (seconds), so what it says does not change with the policy. */
  after?: number;
  /** What it added: Slack channels and email addresses, as written in the destinations. */
  targets: string[];
  /** Slack user ids mentioned (from `schedule:NAME` or configuration, never from labels). */
  mentions: string[];
  /** Schedules that could not say who is on call, with the reason ("schedule secondary unreadable"). */
  unknown: string[];
}

export interface LadderState {
  route: string;
  steps: LadderStepTaken[];
}

export const EMPTY_LOG: DeliveryLog = { references: [], reminders: 0, staleNotified: false, events: [] };
const MAX_EVENTS = 50;

export function appendEvent(log: DeliveryLog, event: DeliveryEvent): void {
  log.events.push(event);
  if (log.events.length > MAX_EVENTS) log.events.splice(0, log.events.length - MAX_EVENTS);
}
