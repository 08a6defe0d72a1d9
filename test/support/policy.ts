/**
 * The routing policy tests write, in one place: a critical route, optionally the warning and info routes of
 * the embedded default, and the delivery settings a test needs. The YAML is flow style (JSON values), which
 * the policy loader reads like any other YAML.
 */

export interface RoutingOptions {
  /** The critical route: its Slack channel, whether on-call gets email, its repeat; `matchAll` drops the matcher. */
  critical: { slack: string; email?: boolean; repeat: string; matchAll?: boolean };
  /** The warning route (hourly reminders) and fallback; absent: the critical route is the fallback. */
  warning?: { slack: string };
  /** The info route (no reminders); only with `warning`. */
  info?: { slack: string };
  /** Merged into `delivery:`. */
  delivery?: Record<string, unknown>;
  /** Every route's `storm:` (issue 14); absent: the default, threshold 5 within 30 s. */
  storm?: { threshold: number; window: string };
  /** Further top-level keys (silence_durations, redis_prefix, …). */
  extra?: Record<string, unknown>;
}

export function routingPolicy(options: RoutingOptions): string {
  const { critical, warning, info } = options;
  const storm = options.storm ? { storm: options.storm } : {};
  const routes: Record<string, unknown>[] = [
    {
      name: 'critical',
      matchers: critical.matchAll ? [] : ['severity="critical"'],
      slack: [critical.slack],
      ...(critical.email ? { email: ['oncall'] } : {}),
      repeat: critical.repeat,
      ...storm,
    },
  ];
  if (warning)
    routes.push({
      name: 'warning',
      matchers: ['severity="warning"'],
      slack: [warning.slack],
      repeat: '1h',
      ...storm,
    });
  if (warning && info)
    routes.push({
      name: 'info',
      matchers: ['severity="info"'],
      slack: [info.slack],
      repeat: 'never',
      ...storm,
    });
  const lines = [
    'routes:',
    ...routes.map((route) => `  - ${JSON.stringify(route)}`),
    `fallback_route: ${warning ? 'warning' : 'critical'}`,
    ...(options.delivery ? [`delivery: ${JSON.stringify(options.delivery)}`] : []),
    ...Object.entries(options.extra ?? {}).map(([key, value]) => `${key}: ${JSON.stringify(value)}`),
  ];
  return `${lines.join('\n')}\n`;
}
