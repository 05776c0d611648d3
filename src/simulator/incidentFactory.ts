// Microsoft Graph security incidents as Defender XDR keeps them (the properties of Microsoft's "incident
// resource type"): opened with their first alert, changed whenever one of their alerts changes, worked on by
// analysts, and merged into another incident (status `redirected`, `redirectIncidentId`). Graph documents no
// resolvedDateTime for incidents, so none is served.
import { formatInstant, parseInstant } from '../instants.js';
import { laterTimestamp, timestamp } from './alertFactory.js';

export type SimIncident = Record<string, unknown> & { id: string; status: string; lastUpdateDateTime: string; createdDateTime: string };

/** The fields an incident is derived from, of an alert as Graph shows it (graphAlertSummary). */
export type GraphAlertView = Record<string, unknown>;

const SEVERITY_RANK = ['unknown', 'informational', 'low', 'medium', 'high'];
const ANALYSTS = ['secops@contoso.example', 'tier1@contoso.example', 'KaiC@contoso.example'];
const CLASSIFICATIONS: [string, string][] = [
  ['truePositive', 'multiStagedAttack'],
  ['truePositive', 'malware'],
  ['falsePositive', 'clean'],
  ['informationalExpectedActivity', 'securityTesting'],
];
const TAGS = ['Demo', 'Ransomware', 'Escalated', 'VIP user'];

export class IncidentFactory {
  constructor(
    private readonly random: () => number,
    private readonly tenantId: string,
  ) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** The incident Defender XDR opens for its first alert (resolved already if that alert is). */
  open(id: string, alert: GraphAlertView): SimIncident {
    return this.resolvedWith({
      '@odata.type': '#microsoft.graph.security.incident',
      id,
      incidentWebUrl: `https://security.microsoft.com/incidents/${id}?tid=${this.tenantId}`,
      redirectIncidentId: null,
      tenantId: this.tenantId,
      displayName: `${String(alert.title)} on one endpoint`,
      createdDateTime: String(alert.createdDateTime),
      lastUpdateDateTime: String(alert.lastUpdateDateTime),
      assignedTo: null,
      classification: 'unknown',
      determination: 'unknown',
      status: 'active',
      severity: alert.severity ?? 'unknown',
      customTags: [],
      comments: [],
      systemTags: this.random() < 0.2 ? ['Defender Experts'] : [],
      description: `Defender XDR correlated alerts into this incident, starting with: ${String(alert.title)}.`,
      summary: null,
      resolvingComment: null,
      lastModifiedBy: 'Microsoft 365 Defender',
    }, [alert], alert);
  }

  /**
   * The incident after `changed`, one of its alerts, arrived or changed: a later lastUpdateDateTime (never
   * earlier than the alert's), the highest severity and the earliest creation among its alerts, and resolved
   * by automation once every alert is.
   */
  withAlert(incident: SimIncident, alerts: GraphAlertView[], changed: GraphAlertView): SimIncident {
    const next: SimIncident = { ...incident };
    const previous = parseInstant(incident.lastUpdateDateTime) ?? 0n;
    const alertTime = parseInstant(changed.lastUpdateDateTime);
    next.lastUpdateDateTime = alertTime !== undefined && alertTime > previous ? String(changed.lastUpdateDateTime) : formatInstant(previous + 1n);
    const ranks = alerts.map((a) => SEVERITY_RANK.indexOf(String(a.severity)));
    next.severity = SEVERITY_RANK[Math.max(SEVERITY_RANK.indexOf(String(incident.severity)), ...ranks)] ?? incident.severity;
    let earliest = parseInstant(next.createdDateTime);
    for (const alert of alerts) {
      const created = parseInstant(alert.createdDateTime);
      if (created !== undefined && (earliest === undefined || created < earliest)) {
        earliest = created;
        next.createdDateTime = String(alert.createdDateTime);
      }
    }
    if (alerts.length > 1) next.displayName = `Multi-stage incident involving ${[...new Set(alerts.map((a) => String(a.category)))].slice(0, 3).join(' & ')} on ${alerts.length} alerts`;
    return this.resolvedWith(next, alerts, changed);
  }

  /** Automation resolves an incident once every alert in it is resolved. */
  private resolvedWith(incident: SimIncident, alerts: GraphAlertView[], changed: GraphAlertView): SimIncident {
    if (incident.status === 'redirected' || incident.status === 'resolved' || alerts.length === 0 || !alerts.every((a) => a.status === 'resolved')) return incident;
    return { ...incident, status: 'resolved', classification: changed.classification ?? 'unknown', determination: changed.determination ?? 'unknown', lastModifiedBy: 'Automation' };
  }

  /** The next state of an incident as an analyst works on it; its lastUpdateDateTime moves forward. */
  change(incident: SimIncident, atMs: number): SimIncident {
    const next: SimIncident = { ...incident, comments: [...((incident.comments as unknown[]) ?? [])], customTags: [...((incident.customTags as unknown[]) ?? [])] };
    const analyst = this.pick(ANALYSTS);
    const step = this.random();
    if (incident.status === 'active' && step < 0.5) {
      Object.assign(next, { status: 'inProgress', assignedTo: analyst });
    } else if (incident.status !== 'resolved' && incident.status !== 'redirected' && step < 0.8) {
      const [classification, determination] = this.pick(CLASSIFICATIONS);
      Object.assign(next, { status: 'resolved', classification, determination, resolvingComment: 'Closed after review', assignedTo: incident.assignedTo ?? analyst });
    } else if (step < 0.9) {
      (next.customTags as unknown[]).push(this.pick(TAGS));
    } else {
      (next.comments as unknown[]).push({ '@odata.type': 'microsoft.graph.security.alertComment', comment: this.pick(['Escalated to tier 2', 'Isolated the device', 'Reopened for review']), createdByDisplayName: analyst, createdDateTime: timestamp(this.random, atMs) });
    }
    next.lastModifiedBy = analyst;
    next.lastUpdateDateTime = laterTimestamp(this.random, atMs, incident.lastUpdateDateTime);
    return next;
  }

  /** The incident merged into `targetId`: it keeps its id and says where it went. */
  redirect(incident: SimIncident, targetId: string, atMs: number): SimIncident {
    return { ...incident, status: 'redirected', redirectIncidentId: targetId, lastModifiedBy: 'Microsoft 365 Defender', lastUpdateDateTime: laterTimestamp(this.random, atMs, incident.lastUpdateDateTime) };
  }
}
