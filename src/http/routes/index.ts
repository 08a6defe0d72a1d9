/** The people-facing route groups, one file each; http/app.ts mounts the webhook, health and metrics routes. */
import type { Hono } from 'hono';
import type { AppEnv } from '../app.js';
import * as acknowledgeLink from './acknowledge-link.js';
import * as incidents from './incidents.js';
import type { RouteServices } from './services.js';
import * as slackInteractions from './slack-interactions.js';

export const routeGroups = [slackInteractions, acknowledgeLink, incidents] as const;

export function registerRoutes(app: Hono<AppEnv>, services: RouteServices): void {
  for (const group of routeGroups) group.register(app, services);
}
