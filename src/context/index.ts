/** The cold-chain context stage: what the delivery worker imports. */
export {
  type AlertEntry,
  type AlertScope,
  type CargoClass,
  type CatalogLinks,
  type ContextCatalog,
  contextCatalogSchema,
  DEFAULT_CATALOG_PATH,
  type EscalationRule,
  loadContextCatalog,
  type ServiceEntry,
} from './catalog.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
export { ConfigFileError, type ConfigIssue } from './config-file.js';
export {
  createInMemoryContextCache,
  createRedisContextCache,
  type InMemoryContextCacheOptions,
} from './context-cache.js';
export { ContextLookupError } from './context-lookup-error.js';
export {
  budgetReached,
  budgetThresholdAt,
  type DeviationDirection,
  type ExcursionBudget,
  excursionBudget,
  isEtaAfterBudget,
  readMeasuredTemperature,
  type TemperatureDeviation,
  temperatureDeviation,
} from './derived-facts.js';
export {
  type EscalationMatch,
  type EscalationOutcome,
  type EscalationSubject,
  evaluateEscalation,
  severityRank,
} from './escalation.js';
export { DEFAULT_FLEET_PATH, FileContextProvider, type Fleet, loadFleet } from './file-context-provider.js';
export {
  type AssetLines,
  type ContextLines,
  type FormatContextOptions,
  formatContextLines,
} from './format-context-lines.js';
export { HttpContextProvider, type HttpContextProviderOptions } from './http-context-provider.js';
export {
  type AssetEntry,
  buildIncidentContext,
  type IncidentContext,
  type IncidentContextInput,
  type IncidentKind,
  type ShipmentFacts,
} from './incident-context.js';
export { buildSilenceUrl, pickRunbook, silenceMatchers, telUrl } from './links.js';
export {
  EMPTY_ASSET_CONTEXT,
  type ResolveAssetContextOptions,
  resolveAssetContext,
} from './resolve-asset-context.js';
export type {
  AlertStatus,
  AssetContext,
  ContextAlert,
  ContextCache,
  ContextProvider,
  Driver,
  ResolvedAssetContext,
  Severity,
  Shipment,
  UnavailableReason,
  Vehicle,
} from './types.js';
