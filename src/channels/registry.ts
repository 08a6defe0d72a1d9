/**
 * The channel registry (DESIGN.md §Style): one Deliverer per ChannelKind, typed as a Record so a missing
 * channel fails to compile. Each channel is a slice of its own (channels/<kind>/); adding a channel kind
 * touches its folder and this file.
 */
import type { ChannelKind } from '../domain/model.js';
import type { Deliverer } from './channel.js';
import { type EmailChannelDeps, emailDeliverer } from './email/deliverer.js';
import { type SlackChannelDeps, slackDeliverer } from './slack/deliverer.js';

export type { Deliverer, DeliveryRun } from './channel.js';

export type ChannelDeps = SlackChannelDeps & EmailChannelDeps;

export function createDeliverers(deps: ChannelDeps): Record<ChannelKind, Deliverer> {
  return { slack: slackDeliverer(deps), email: emailDeliverer(deps) };
}
