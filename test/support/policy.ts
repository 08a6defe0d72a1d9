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
  /**
   * Every route's `storm:` (issue 14). Absent: no digest (threshold 1000), so the many tests that post more
   * than five incidents at once and count each one's own message keep testing what they are about; the
   * storm tests set it.
   */
  storm?: { threshold: number; window: string };
  /** Further top-level keys (silence_durations, redis_prefix, …). */
  extra?: Record<string, unknown>;
}

export function routingPolicy(options: RoutingOptions): string {
  const { critical, warning, info } = options;
  const storm = { storm: options.storm ?? { threshold: 1000, window: '30s' } };
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
