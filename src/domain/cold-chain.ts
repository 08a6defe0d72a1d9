/**
 * What the relay keeps of an incident's cold-chain context for the incident list (GET /api/incidents): the
 * facts as the last delivery run of the firing incident saw them, so a list of 200 incidents asks no
 * dispatch API. The budget keeps its start and allowance, not a percentage, so its use is current when read.
 */
export interface ColdChainFacts {
  vehicles: string[];
  shipments: string[];
  /** One per cargo class on board, e.g. "2–8 °C (chilled pharma)". */
  cargoRanges: string[];
  /** One per shipment whose excursion budget runs (an alert that counts against it fires). */
  budgets: { startedAt: number; allowanceMinutes: number }[];
}
