/**
 * What the route files need from the rest of the relay. The composition root (app/relay.ts) builds one and
 * passes it to each route file's `register(app, services)`; tests build their own with real stores.
 */
import type { InteractionQueue } from '../../channels/slack/interactions.js';
import type { DeliveryQueuePort } from '../../enqueue/delivery-queue.js';
import type { Metrics } from '../../observability/metrics.js';
import type { AlertStore } from '../../store/alert-store.js';
import type { DeliveryStore } from '../../store/delivery-store.js';
import type { IncidentIndex } from '../../store/incident-index.js';

export interface RouteServices {
  alerts: AlertStore;
  deliveries: DeliveryStore;
  /** The incident index, for GET /api/incidents. */
  index: IncidentIndex;
  queue: DeliveryQueuePort;
  interactions: InteractionQueue;
  metrics: Metrics;
  webhookToken: string | undefined;
  signingSecret: string | undefined;
  /** Seconds; a silence button is honoured only for a configured duration. */
  silenceDurations: number[];
  ackSecret: string | undefined;
  maxBodyBytes: number;
  /** The name of the on-call schedule member with this email address (the acknowledge page prefills it). */
  personOf?: ((address: string) => string | undefined) | undefined;
  now?: () => number;
}
