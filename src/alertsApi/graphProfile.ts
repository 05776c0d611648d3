// Microsoft Graph security alerts_v2, the documented successor of the Defender alerts API:
// GET {graph}/v1.0/security/alerts_v2, SecurityAlert.Read.All, camelCase enums, lastUpdateDateTime,
// evidence inline and typed by @odata.type, serviceSource (../shared/reference/defender-alerts-api.md).
import { anyOf, streamNameOf, windowFilterOf, type AlertsApiProfile } from './alertsApiProfile.js';
import { CREATED_FIELD, UPDATE_FIELD } from '../alertSource.js';
import { CALL_QUOTAS, MAX_PAGE_SIZES } from '../config/settings.js';

/** The settings speak the Defender API's enum values; Graph's are camelCase ("UnSpecified" is "unknown"). */
export const graphEnum = (value: string): string => (value === 'UnSpecified' ? 'unknown' : value[0]!.toLowerCase() + value.slice(1));

export const GRAPH_PROFILE: AlertsApiProfile = {
  entity: 'alerts',
  source: 'graph',
  apiName: 'Microsoft Graph (security/alerts_v2)',
  path: '/v1.0/security/alerts_v2',
  updateField: UPDATE_FIELD.graph,
  createdField: CREATED_FIELD.graph,
  maxPageSize: MAX_PAGE_SIZES.graph,
  windowFilter: (from, to, settings) =>
    windowFilterOf(UPDATE_FIELD.graph, from, to, [
      anyOf('serviceSource', settings.serviceSourceFilter),
      anyOf('severity', settings.severityFilter.map(graphEnum)),
      anyOf('status', settings.statusFilter.map(graphEnum)),
    ]),
  streamName: (settings) =>
    streamNameOf('graph:alerts_v2', [
      ['serviceSource', settings.serviceSourceFilter],
      ['severity', settings.severityFilter],
      ['status', settings.statusFilter],
    ]),
  expandsEvidence: false,
  followsNextLink: false,
  countsAnswers: true,
  readPermissions: ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All'],
  audiences: ['https://graph.microsoft.com', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us', '00000003-0000-0000-c000-000000000000'],
  missingPermission: (application) => ({
    lacks: `${application ? 'application role' : 'permission'} SecurityAlert.Read.All`,
    fix: `in the app registration add Microsoft Graph → ${application ? 'application' : 'delegated'} SecurityAlert.Read.All, grant admin consent, then sign in again`,
  }),
  commercialScope: 'https://graph.microsoft.com/.default',
  userLacksRole: 'the signed-in user lacks a Microsoft Defender XDR role that can read alerts (Security Reader, or a Defender role with "View Data"). Ask an administrator to grant it.',
  quota: CALL_QUOTAS.graph,
};

