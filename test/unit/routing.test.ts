import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_YAML, parsePolicy } from '../../src/config/config.js';
import { matches, parseMatcher } from '../../src/domain/matchers.js';
import { deliveriesFor, PREVIEW_ONCALL, selectRoutes } from '../../src/route/route.js';

describe('matchers', () => {
  it('supports the four Alertmanager operators, with anchored regexes and missing labels as ""', () => {
    const labels = { severity: 'critical', alertname: 'ReeferTemperatureExcursion' };
    expect(matches(parseMatcher('severity="critical"'), labels)).toBe(true);
    expect(matches(parseMatcher('severity!="critical"'), labels)).toBe(false);
    expect(matches(parseMatcher('alertname=~"Reefer.*"'), labels)).toBe(true);
    expect(matches(parseMatcher('alertname=~"Reefer"'), labels)).toBe(false);
    expect(matches(parseMatcher('alertname!~"Postgre.*"'), labels)).toBe(true);
    expect(matches(parseMatcher('team=""'), labels)).toBe(true);
    expect(matches(parseMatcher('severity=critical'), labels)).toBe(true);
    expect(matches(parseMatcher('msg="a \\"quoted\\" value"'), { msg: 'a "quoted" value' })).toBe(true);
  });

  it('refuses malformed matchers and bad regexes with the reason', () => {
    expect(() => parseMatcher('severity critical')).toThrow(/expected name="value"/);
    expect(() => parseMatcher('a=~"("')).toThrow(/bad regex/);
  });
});

describe('routing', () => {
  const policy = parsePolicy(DEFAULT_POLICY_YAML, 'default');

  it('routes by severity as DESIGN.md says, critical to Slack and the on-call list every 5 minutes', () => {
    const critical = deliveriesFor(
      selectRoutes(policy, { severity: 'critical' }).routes,
      'oncall@example.com',
    );
    expect(critical.map((d) => [d.kind, d.target, d.repeatSeconds])).toEqual([
      ['slack', '#alerts-critical', 300],
      ['email', 'oncall@example.com', 300],
    ]);
    const warning = deliveriesFor(selectRoutes(policy, { severity: 'warning' }).routes, undefined);
    expect(warning.map((d) => [d.target, d.repeatSeconds])).toEqual([['#alerts-warning', 3600]]);
    const info = deliveriesFor(selectRoutes(policy, { severity: 'info' }).routes, undefined);
    expect(info.map((d) => [d.target, d.repeatSeconds])).toEqual([['#alerts-info', 0]]);
  });

  it('sends an unknown severity to the warning route and says it fell back', () => {
    const result = selectRoutes(policy, { severity: 'page-me' });
    expect(result.fallback).toBe(true);
    expect(result.routes.map((r) => r.name)).toEqual(['warning']);
  });

  it('uses a placeholder on-call address only for preview mode', () => {
    const critical = deliveriesFor(selectRoutes(policy, { severity: 'critical' }).routes, undefined);
    expect(critical[1]!.target).toBe(PREVIEW_ONCALL);
  });

  it('continues past a matching route when asked, and merges a destination reached twice', () => {
    const custom = parsePolicy(
      `routes:
  - name: reefer
    matchers: ['alertname=~"Reefer.*"']
    slack: ['#cold-chain']
    email: [qa@example.com]
    repeat: 10m
    continue: true
  - name: critical
    matchers: ['severity="critical"']
    slack: ['#cold-chain', '#alerts-critical']
    repeat: 5m
fallback_route: critical
`,
      'custom',
    );
    const routes = selectRoutes(custom, { alertname: 'ReeferUnitFault', severity: 'critical' }).routes;
    expect(routes.map((r) => r.name)).toEqual(['reefer', 'critical']);
    const deliveries = deliveriesFor(routes, undefined);
    expect(deliveries.map((d) => [d.target, d.repeatSeconds])).toEqual([
      ['#cold-chain', 300],
      ['qa@example.com', 600],
      ['#alerts-critical', 300],
    ]);
  });
});
