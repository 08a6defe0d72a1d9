/**
 * The incident list (GET /api/incidents, issue 13) as data: what the API returns and the console renders.
 * Built from the snapshot, the flags and the delivery logs; the Redis index only finds the ids.
 */
export type IncidentListStatus = 'firing' | 'resolved' | 'acknowledged' | 'silenced';

export interface IncidentListFilter {
  status?: IncidentListStatus | undefined;
  severity?: string | undefined;
  vehicle?: string | undefined;
  shipment?: string | undefined;
  /** 1–200, default 50. */
  limit: number;
  /** Opaque; from the previous page's `nextCursor`. */
  cursor?: string | undefined;
}

export interface IncidentListItem {
  id: string;
  title: string;
  severity: string;
  status: IncidentListStatus;
  /** ISO 8601. */
  firingSince: string;
  resolvedAt?: string | undefined;
  coldChain: {
    vehicles: string[];
    shipments: string[];
    /** e.g. "2–8 °C (pharma)". */
    cargoRange?: string | undefined;
    /** Excursion budget used, percent. */
    budgetUsedPct?: number | undefined;
  };
  acknowledgedBy?: string | undefined;
  silencedUntil?: string | undefined;
  /** Steps of the escalation ladder taken so far (0 = none). */
  escalationStep: number;
  nextReminderAt?: string | undefined;
  deliveries: {
    id: string;
    kind: 'slack' | 'email';
    target: string;
    lastOutcome?: 'delivered' | 'previewed' | 'dead_lettered' | undefined;
    lastAt?: string | undefined;
  }[];
}

export interface IncidentListPage {
  items: IncidentListItem[];
  nextCursor?: string | undefined;
}
