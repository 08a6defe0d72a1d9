import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadYamlConfig } from './config-file.js';
import type { Severity } from './types.js';

/**
 * The context catalog: what each monitored component means for the Cold Chain Dispatch System,
 * what each alert means and what to do first, the cargo classes with their temperature ranges and
 * excursion allowances, and the cargo-aware escalation rules.
 */

// Two levels up from both src/context/ and dist/context/ is the repository root.
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../config/catalog.yaml', import.meta.url));

export type AlertScope = 'infrastructure' | 'asset';

export interface CatalogLinks {
  grafana: string;
  /** The Alertmanager UI people open in a browser (silence form), not the API the relay calls. */
  alertmanager: string;
  /** Per-vehicle dashboard, `{vehicle_id}` replaced by the vehicle id. */
  vehicleDashboard?: string | undefined;
}

export interface ServiceEntry {
  id: string;
  name: string;
  /** Capability ids (keys of `ContextCatalog.capabilities`). */
  capabilities: string[];
  impact: string;
  owner: string;
  runbook: string;
  /** Absolute URL, or a path under `links.grafana`. */
  dashboard?: string | undefined;
  /** Container names (`coldchain-<service>`) whose container alerts really concern this service. */
  containers: string[];
}

export interface AlertEntry {
  alertname: string;
  /** Short lowercase noun phrase used inside sentences ("reefer telemetry missing"). */
  title: string;
  service: string;
  scope: AlertScope;
  impact: string;
  firstAction: string;
  /** Overrides the service's runbook. */
  runbook?: string | undefined;
  /** The rule's `value` annotation is a temperature in °C. */
  valueIsTemperature: boolean;
  /** Time firing counts against the cargo's excursion allowance. */
  countsAgainstBudget: boolean;
}

export interface CargoClass {
  id: string;
  label: string;
  minC?: number | undefined;
  maxC?: number | undefined;
  excursionAllowanceMinutes: number;
  escalationContacts: string[];
}

export interface EscalationRule {
  name: string;
  /** Every condition present must hold; absent conditions do not constrain. */
  when: {
    alertnameIn?: string[] | undefined;
    cargoClassIn?: string[] | undefined;
    budgetUsedPctGte?: number | undefined;
  };
  /** The YAML's `then:` (renamed: an object with a `then` property looks like a promise to `await`). */
  action: {
    severity?: Severity | undefined;
    addEmail: string[];
    notifyCargoContacts: boolean;
  };
}

export interface ContextCatalog {
  links: CatalogLinks;
  /** Capability id → human name ("dispatch order intake"). */
  capabilities: ReadonlyMap<string, string>;
  services: ReadonlyMap<string, ServiceEntry>;
  alerts: ReadonlyMap<string, AlertEntry>;
  cargoClasses: ReadonlyMap<string, CargoClass>;
  escalation: EscalationRule[];
}

const slug = z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be kebab-case (a-z, 0-9, -)');
const alertname = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a Prometheus alert name');
const text = z.string().trim().min(1, 'must not be empty');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const urlOrPath = z
  .string()
  .refine(
    (value) => value.startsWith('/') || httpUrl.safeParse(value).success,
    'must be an http(s) URL or a path starting with /',
  );
const email = z.email({ error: 'must be an email address' });
const severity = z.enum(['critical', 'warning', 'info']);

const serviceSchema = z.strictObject({
  name: text,
  capabilities: z.array(slug),
  impact: text,
  owner: text,
  runbook: httpUrl,
  dashboard: urlOrPath.optional(),
  containers: z.array(text).default([]),
});

const alertSchema = z.strictObject({
  title: text,
  service: slug,
  scope: z.enum(['infrastructure', 'asset']).default('infrastructure'),
  impact: text,
  first_action: text,
  runbook: httpUrl.optional(),
  value_is_temperature: z.boolean().default(false),
  counts_against_budget: z.boolean().default(false),
});

const cargoClassSchema = z
  .strictObject({
    label: text,
    min_c: z.number().optional(),
    max_c: z.number().optional(),
    excursion_allowance_minutes: z.number().positive(),
    escalation_contacts: z.array(email).default([]),
  })
  .superRefine((cargo, ctx) => {
    if (cargo.min_c === undefined && cargo.max_c === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs min_c, max_c or both', path: [] });
    }
    if (cargo.min_c !== undefined && cargo.max_c !== undefined && cargo.min_c > cargo.max_c) {
      ctx.addIssue({
        code: 'custom',
        message: `min_c (${cargo.min_c}) is above max_c (${cargo.max_c})`,
        path: ['min_c'],
      });
    }
  });

const ruleSchema = z.strictObject({
  name: slug,
  when: z
    .strictObject({
      alertname_in: z.array(alertname).min(1).optional(),
      cargo_class_in: z.array(slug).min(1).optional(),
      budget_used_pct_gte: z.number().min(0).max(1000).optional(),
    })
    // A rule without conditions would escalate every alert; make that impossible to write by accident.
    .refine(
      (when) => Object.values(when).some((value) => value !== undefined),
      'needs at least one condition',
    ),
  // biome-ignore lint/suspicious/noThenProperty: the documented YAML key; this object is a schema and is never awaited.
  then: z
    .strictObject({
      severity: severity.optional(),
      add_email: z.array(email).default([]),
      notify_cargo_contacts: z.boolean().default(false),
    })
    .refine(
      (then) => then.severity !== undefined || then.add_email.length > 0 || then.notify_cargo_contacts,
      'needs severity, add_email or notify_cargo_contacts',
    ),
});

type RawCatalog = z.output<typeof rawCatalogSchema>;

const rawCatalogSchema = z.strictObject({
  links: z.strictObject({
    grafana: httpUrl,
    alertmanager: httpUrl,
    vehicle_dashboard: urlOrPath.optional(),
  }),
  capabilities: z.record(slug, text),
  services: z.record(slug, serviceSchema),
  alerts: z.record(alertname, alertSchema),
  cargo_classes: z.record(slug, cargoClassSchema),
  escalation: z.array(ruleSchema).default([]),
});

/** References between sections, checked so a typo fails at start-up instead of silently never matching. */
function checkReferences(catalog: RawCatalog, ctx: z.RefinementCtx): void {
  const missing = (path: (string | number)[], message: string): void => {
    ctx.addIssue({ code: 'custom', path, message });
  };
  for (const [id, service] of Object.entries(catalog.services)) {
    service.capabilities.forEach((capability, index) => {
      if (!Object.hasOwn(catalog.capabilities, capability)) {
        missing(['services', id, 'capabilities', index], `unknown capability "${capability}"`);
      }
    });
  }
  for (const [name, alert] of Object.entries(catalog.alerts)) {
    if (!Object.hasOwn(catalog.services, alert.service)) {
      missing(['alerts', name, 'service'], `unknown service "${alert.service}"`);
    }
  }
  const ruleNames = new Set<string>();
  catalog.escalation.forEach((rule, ruleIndex) => {
    if (ruleNames.has(rule.name))
      missing(['escalation', ruleIndex, 'name'], `duplicate rule name "${rule.name}"`);
    ruleNames.add(rule.name);
    rule.when.alertname_in?.forEach((name, index) => {
      const alert = Object.hasOwn(catalog.alerts, name) ? catalog.alerts[name] : undefined;
      if (alert === undefined) {
        missing(['escalation', ruleIndex, 'when', 'alertname_in', index], `unknown alert "${name}"`);
      } else if (rule.when.budget_used_pct_gte !== undefined && !alert.counts_against_budget) {
        missing(
          ['escalation', ruleIndex, 'when', 'alertname_in', index],
          `"${name}" does not count against the excursion budget, so budget_used_pct_gte can never match it`,
        );
      }
    });
    rule.when.cargo_class_in?.forEach((id, index) => {
      if (!Object.hasOwn(catalog.cargo_classes, id)) {
        missing(['escalation', ruleIndex, 'when', 'cargo_class_in', index], `unknown cargo class "${id}"`);
      }
    });
  });
}

function toCatalog(raw: RawCatalog): ContextCatalog {
  return {
    links: {
      grafana: raw.links.grafana,
      alertmanager: raw.links.alertmanager,
      vehicleDashboard: raw.links.vehicle_dashboard,
    },
    capabilities: new Map(Object.entries(raw.capabilities)),
    services: new Map(Object.entries(raw.services).map(([id, service]) => [id, { id, ...service }])),
    alerts: new Map(
      Object.entries(raw.alerts).map(([name, alert]) => [
        name,
        {
          alertname: name,
          title: alert.title,
          service: alert.service,
          scope: alert.scope,
          impact: alert.impact,
          firstAction: alert.first_action,
          runbook: alert.runbook,
          valueIsTemperature: alert.value_is_temperature,
          countsAgainstBudget: alert.counts_against_budget,
        },
      ]),
    ),
    cargoClasses: new Map(
      Object.entries(raw.cargo_classes).map(([id, cargo]) => [
        id,
        {
          id,
          label: cargo.label,
          minC: cargo.min_c,
          maxC: cargo.max_c,
          excursionAllowanceMinutes: cargo.excursion_allowance_minutes,
          escalationContacts: cargo.escalation_contacts,
        },
      ]),
    ),
    escalation: raw.escalation.map((rule) => ({
      name: rule.name,
      when: {
        alertnameIn: rule.when.alertname_in,
        cargoClassIn: rule.when.cargo_class_in,
        budgetUsedPctGte: rule.when.budget_used_pct_gte,
      },
      action: {
        severity: rule.then.severity,
        addEmail: rule.then.add_email,
        notifyCargoContacts: rule.then.notify_cargo_contacts,
      },
    })),
  };
}

export const contextCatalogSchema = rawCatalogSchema.superRefine(checkReferences).transform(toCatalog);

/** Loads and validates a catalog file; throws ConfigFileError (`file: path.to.key: reason`). */
export function loadContextCatalog(path: string = DEFAULT_CATALOG_PATH): ContextCatalog {
  return loadYamlConfig(path, contextCatalogSchema);
}
