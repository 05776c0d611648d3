// Microsoft Graph security incidents: GET {graph}/v1.0/security/incidents, SecurityIncident.Read.All
// (delegated or application), lastUpdateDateTime and createdDateTime, paged by @odata.nextLink. The list
// page states no maximum $top, but the live service answers a $top above 50 with 400 ("The limit of '50' for
// Top query has been exceeded"), so pages hold at most 50. $expand=alerts is never asked for: on a large
// tenant it answers 500 on every try (../shared/reference/graph-incidents-and-readers.md); incidents and
// alerts are linked through the alerts' own incidentId instead.
import { streamNameOf, windowFilterOf } from './alertsApiProfile.js';
import { CALL_QUOTAS } from '../config/settings.js';
import { GRAPH_PROFILE } from './graphProfile.js';
import type { RecordStreamProfile } from './recordStreamProfile.js';

export const INCIDENTS_MAX_PAGE_SIZE = 50;
export const INCIDENTS_PERMISSION = 'SecurityIncident.Read.All';

export const GRAPH_INCIDENTS_PROFILE: RecordStreamProfile = {
  entity: 'incidents',
  source: 'graph',
  apiName: 'Microsoft Graph (security/incidents)',
  path: '/v1.0/security/incidents',
  updateField: 'lastUpdateDateTime',
  createdField: 'createdDateTime',
  maxPageSize: INCIDENTS_MAX_PAGE_SIZE,
  // The alert filters (severity, status, service source) speak of alerts: every incident is read.
  windowFilter: (from, to) => windowFilterOf('lastUpdateDateTime', from, to, []),
  streamName: () => streamNameOf('graph:incidents', []),
  expandsEvidence: false,
  followsNextLink: false,
  // Documented for incidents ("supports the $count, $filter, $skip, $top and $expand OData query parameters"):
  // at 50 a page, a backfill is read through counted pages, each window proved whole by them (pagedWindow.ts).
  countsAnswers: true,
  readPermissions: [INCIDENTS_PERMISSION, 'SecurityIncident.ReadWrite.All'],
  audiences: GRAPH_PROFILE.audiences,
  missingPermission: (application) => ({
    lacks: `${application ? 'application role' : 'permission'} ${INCIDENTS_PERMISSION}`,
    fix: `in the app registration add Microsoft Graph → ${application ? 'application' : 'delegated'} ${INCIDENTS_PERMISSION}, grant admin consent, then sign in again (or set incidents: false to sync alerts only)`,
  }),
  commercialScope: GRAPH_PROFILE.commercialScope,
  userLacksRole: 'the signed-in user lacks a Microsoft Defender XDR role that can read incidents (Security Reader, or a Defender role with "View Data" / "Security operations: Security data basics (read)"). Ask an administrator to grant it, or set incidents: false to sync alerts only.',
  // One Graph limit for security detections and incidents: the client shares it with the alerts' client.
  quota: CALL_QUOTAS.graph,
};
