/**
 * Before each reminder, ask Alertmanager whether the incident's alerts are still active and neither
 * silenced nor inhibited, so a silence made in Alertmanager's UI stops reminders too (DESIGN.md §Repeat).
 * An unreachable Alertmanager is "unknown": the reminder goes out, since missing a page is worse.
 */
import type { IncidentSnapshot } from '../model.js';

export type AlertmanagerVerdict = 'active' | 'suppressed' | 'unknown';

export interface AlertmanagerCheck {
  verdict(snapshot: IncidentSnapshot): Promise<AlertmanagerVerdict>;
}

export function createAlertmanagerCheck(urls: string[], timeoutMs = 2000): AlertmanagerCheck | undefined {
  if (urls.length === 0) return undefined;
  return {
    async verdict(snapshot) {
      const fingerprints = new Set(
        snapshot.alerts.filter((a) => a.status === 'firing').map((a) => a.fingerprint),
      );
      const filters = Object.entries(snapshot.groupLabels).map(
        ([k, v]) => `filter=${encodeURIComponent(`${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)}`,
      );
      const query = ['active=true', 'silenced=false', 'inhibited=false', ...filters].join('&');
      let answered = false;
      for (const base of urls) {
        try {
          const res = await fetch(`${base.replace(/\/+$/, '')}/api/v2/alerts?${query}`, {
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (!res.ok) continue;
          answered = true;
          const alerts = (await res.json()) as { fingerprint?: string }[];
          if (alerts.some((a) => a.fingerprint && fingerprints.has(a.fingerprint))) return 'active';
        } catch {
          // Try the next replica.
        }
      }
      return answered ? 'suppressed' : 'unknown';
    },
  };
}
