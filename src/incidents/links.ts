/** Where people read an incident: its console page, which every message footer and silence comment links to. */
export function incidentPageUrl(publicUrl: string, incidentId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/incidents/${incidentId}`;
}
