/**
 * The enrich stage as the worker sees it: cold-chain context for an incident, never throwing and never
 * late (DESIGN.md: context never blocks or drops a notification). The catalog can be reloaded (SIGHUP);
 * a bad reload keeps the catalog in use and says why.
 */
import {
  buildIncidentContext,
  buildSilenceUrl,
  type ContextCatalog,
  type ContextProvider,
  formatContextLines,
  loadContextCatalog,
  pickRunbook,
  resolveAssetContext,
  silenceMatchers,
} from '../context/index.js';
import type { ColdChainFacts } from '../domain/cold-chain.js';
import type { IncidentSnapshot } from '../domain/model.js';
import { coldChainFactsOf } from '../incidents/cold-chain.js';
import { safeUrl } from '../render/describe.js';
import type { ContextView } from '../render/view.js';

export interface Escalation {
  rule: string;
  reason: string;
  /** Set when the rule raises the severity. */
  severity?: string | undefined;
  addEmail: string[];
  /** When the rule's condition became true (ms): a budget threshold's crossing, not when a job noticed it. */
  since?: number | undefined;
}

export interface ContextOutcome {
  view: ContextView;
  severity: string;
  escalation?: Escalation | undefined;
  /** When an escalation threshold will next be crossed if the alerts keep firing (ms). */
  recheckAt?: number | undefined;
  /** What the incident list shows of this context (kept by reconcile while the incident fires). */
  coldChain?: ColdChainFacts | undefined;
}

export interface ContextStage {
  describe(snapshot: IncidentSnapshot, now: number): Promise<ContextOutcome>;
  /** Re-reads the catalog file; throws (keeping the old catalog) when the new one is bad. */
  reload(): void;
}

export interface ContextStageOptions {
  catalogPath?: string | undefined;
  provider: ContextProvider;
  deadlineMs: number;
  onUnavailable: (reason: string) => void;
  /** The policy's display_timezone. */
  timeZone?: string | undefined;
  /** ALERTMANAGER_URL: where a silence link points when the webhook's externalURL is not a usable URL. */
  alertmanagerUrls?: readonly string[] | undefined;
}

export function createContextStage(options: ContextStageOptions): ContextStage {
  let catalog: ContextCatalog = loadContextCatalog(options.catalogPath);
  return {
    reload() {
      catalog = loadContextCatalog(options.catalogPath);
    },
    async describe(snapshot, now) {
      const firing = snapshot.alerts.filter((a) => a.status === 'firing');
      const alerts = firing.length ? firing : snapshot.alerts;
      const resolved = await resolveAssetContext(alerts, options.provider, {
        deadlineMs: options.deadlineMs,
        onUnavailable: (code) => options.onUnavailable(code),
      });
      const ctx = buildIncidentContext(
        { alerts, commonLabels: snapshot.commonLabels, severity: snapshot.severity },
        catalog,
        resolved,
        new Date(now),
      );
      const lines = formatContextLines(ctx, { timeZone: options.timeZone });
      // The silence form must open where people's browsers reach Alertmanager: the webhook's externalURL,
      // else the first ALERTMANAGER_URL. Never the catalog's host: it is an example, not this deployment's.
      const alertmanager = safeUrl(snapshot.externalURL) ?? safeUrl(options.alertmanagerUrls?.[0]);
      const [onlyVehicle, ...otherVehicles] = ctx.vehicles;
      const esc = ctx.escalation;
      const escalation =
        snapshot.status === 'firing' && esc.rule && (esc.severity || esc.addEmail.length)
          ? {
              rule: esc.rule,
              reason: esc.reason ?? esc.rule,
              severity: esc.severity,
              addEmail: esc.addEmail,
              since: esc.since?.getTime(),
            }
          : undefined;
      return {
        view: {
          heading: lines.heading,
          lines: lines.lines,
          firstAction: lines.firstAction,
          assets: lines.assets,
          // Every alert of the episode, not only the firing ones: the runbook must not change between updates.
          runbook: pickRunbook(snapshot.alerts, ctx.catalogRunbook),
          // One vehicle: its own dashboard (the catalog's var-vehicle_id template); several: each block has its own.
          dashboard: (otherVehicles.length === 0 ? onlyVehicle?.links.dashboard : undefined) ?? ctx.dashboard,
          silenceUrl:
            alertmanager &&
            buildSilenceUrl(
              alertmanager,
              silenceMatchers(
                Object.keys(snapshot.commonLabels).length > 0
                  ? snapshot.commonLabels
                  : (alerts[0]?.labels ?? {}),
              ),
            ),
          unavailable: ctx.unavailable?.reason,
        },
        severity: escalation?.severity ?? snapshot.severity,
        escalation,
        recheckAt: snapshot.status === 'firing' ? ctx.nextRecheckAt?.getTime() : undefined,
        coldChain: coldChainFactsOf(ctx),
      };
    },
  };
}
