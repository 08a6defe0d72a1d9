/** The payloads captured from a real Alertmanager 0.25 (examples/payloads/README.md), read unchanged. */
import { readFileSync } from 'node:fs';
import type { WebhookPayload } from '../../src/receive/schema.js';

export type FixtureName =
  | 'firing-high-cpu'
  | 'firing-postgresql-down'
  | 'firing-reefer-excursion'
  | 'repeat-reefer-excursion'
  | 'resolved-postgresql-down'
  | 'resolved-reefer-excursion'
  | 'group-first-replica-a'
  | 'group-first-replica-b'
  | 'group-truncated-replica-a'
  | 'group-truncated-replica-b'
  | 'group-partial-resolve-replica-a'
  | 'group-partial-resolve-replica-b';

export function fixtureText(name: FixtureName): string {
  return readFileSync(new URL(`../../examples/payloads/${name}.json`, import.meta.url), 'utf8');
}

export function fixture(name: FixtureName): WebhookPayload {
  return JSON.parse(fixtureText(name)) as WebhookPayload;
}

/** A fixture moved to a fresh group, so scenarios sharing a groupKey do not meet (and benchmarks never dedupe). */
export function inGroup(payload: WebhookPayload, tag: string): WebhookPayload {
  return { ...payload, groupKey: `${payload.groupKey}/${tag}` };
}
