/** The shift-handoff digest's content (deliver/handoff-digest.ts): pure, with a fixed handoff instant. */
import { describe, expect, it } from 'vitest';
import { handoffJobId, handoffSchedules } from '../../src/deliver/handoff.js';
import {
  buildHandoffDigest,
  type DigestIncident,
  renderDigestMail,
  renderDigestSlack,
} from '../../src/deliver/handoff-digest.js';
import type { IncidentSnapshot } from '../../src/domain/model.js';

const MIN = 60_000;
const AT = Date.UTC(2026, 10, 27, 9, 0, 0);
const MARIA = { name: 'Maria Jansen', email: 'maria@coldchain.example', slack: 'U0123ABCD' };

function incident(
  id: string,
  status: 'firing' | 'resolved',
  labels: Record<string, string> = {},
): IncidentSnapshot {
  return {
    incidentId: id,
    groupId: `g-${id}`,
    receiver: 'relay',
    groupKey: id,
    startedAt: AT - 120 * MIN,
    status,
    truncatedAlerts: 0,
    alerts: [
      {
        fingerprint: id,
        startsAt: new Date(AT - 120 * MIN).toISOString(),
        status,
        labels: { alertname: 'ReeferTemperatureExcursion', ...labels },
        annotations: {},
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
      },
    ],
    groupLabels: {},
    commonLabels: { alertname: 'ReeferTemperatureExcursion', ...labels },
    commonAnnotations: {},
    externalURL: '',
    lastSeenAt: AT,
    severity: 'critical',
    deliveries: [],
  };
}

describe('the shift-handoff digest', () => {
  const incidents: DigestIncident[] = [
    {
      snapshot: incident('aaa1', 'firing', { vehicle_id: 'TRK-1' }),
      flags: {
        acknowledged: { by: 'Tom de Vries', at: AT - 100 * MIN, alertKeys: [], truncatedAlerts: 0 },
        silencedUntil: AT + 60 * MIN,
      },
    },
    {
      snapshot: incident('bbb2', 'firing', { vehicle_id: '<!channel>' }),
      flags: {
        ladder: {
          route: 'critical',
          steps: [{ step: 0, at: AT - 105 * MIN, targets: ['#dispatch-duty'], mentions: [], unknown: [] }],
        },
        escalation: { rule: 'half', reason: 'r', notified: ['qa@coldchain.example'] },
      },
    },
    { snapshot: incident('ccc3', 'resolved'), flags: {} },
  ];

  it('lists exactly the open incidents with firing since, acknowledged by, escalated to and silenced until', () => {
    const digest = buildHandoffDigest({
      schedule: 'primary',
      at: AT,
      incoming: [MARIA],
      incidents,
      always: false,
    })!;
    expect(digest.incoming).toBe('Maria Jansen');
    expect(digest.lines.map((l) => l.incidentId)).toEqual(['aaa1', 'bbb2']);
    expect(digest.lines[0]!.state).toEqual([
      'firing since 07:00 UTC (2h)',
      'acknowledged by Tom de Vries at 07:20 UTC',
      'silenced until 10:00 UTC',
    ]);
    expect(digest.lines[1]!.state).toEqual([
      'firing since 07:00 UTC (2h)',
      'unacknowledged',
      'escalated to qa@coldchain.example, #dispatch-duty',
    ]);
  });

  it('says nothing when nothing is open, unless handoff_always', () => {
    const closed = [incidents[2]!];
    expect(
      buildHandoffDigest({
        schedule: 'primary',
        at: AT,
        incoming: [MARIA],
        incidents: closed,
        always: false,
      }),
    ).toBeUndefined();
    const always = buildHandoffDigest({
      schedule: 'primary',
      at: AT,
      incoming: [],
      incidents: closed,
      always: true,
    })!;
    expect(always.lines).toEqual([]);
    expect(renderDigestSlack(always)).toContain('nobody (on-call unknown) on call; no open incidents');
  });

  it('renders label values as data in Slack and in the mail', () => {
    const digest = buildHandoffDigest({
      schedule: 'primary',
      at: AT,
      incoming: [MARIA],
      incidents,
      always: false,
    })!;
    const slack = renderDigestSlack(digest);
    expect(slack).toContain('Shift handoff (primary) at 09:00 UTC: Maria Jansen on call; 2 open incidents');
    expect(slack).not.toContain('<!channel>');
    expect(slack).toContain('&lt;!channel&gt;');
    const mail = renderDigestMail(digest);
    expect(mail.subject).toBe('Shift handoff (primary): 2 open incidents');
    expect(mail.text).toContain('incident aaa1');
    expect(mail.html).not.toContain('<!channel>');
  });

  it('takes part only for schedules with somewhere to send, one job id per schedule and instant', () => {
    expect(
      handoffSchedules({
        a: { handoff_slack: '#oncall', handoff_always: false, members: [{ name: 'x' }] },
        b: { handoff_always: false, members: [{ name: 'y', email: 'y@example.com' }] },
        c: { handoff_always: true, members: [{ name: 'z' }] },
      }),
    ).toEqual(['a', 'b']);
    expect(handoffJobId('primary', AT)).toBe(`h-primary-${AT}`);
  });
});
