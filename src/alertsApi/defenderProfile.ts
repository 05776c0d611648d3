// The Defender for Endpoint API: GET {base}/api/alerts (../shared/reference/defender-alerts-api.md).
import { anyOf, streamNameOf, windowFilterOf, type AlertsApiProfile } from './alertsApiProfile.js';
import { CREATED_FIELD, UPDATE_FIELD } from '../alertSource.js';
import { CALL_QUOTAS, MAX_PAGE_SIZES } from '../config/settings.js';
import { DEFENDER_API_RETIREMENT } from './retirement.js';

export const DEFENDER_PROFILE: AlertsApiProfile = {
  entity: 'alerts',
  source: 'defender',
  apiName: 'the Defender API',
  path: '/api/alerts',
  updateField: UPDATE_FIELD.defender,
  createdField: CREATED_FIELD.defender,
  maxPageSize: MAX_PAGE_SIZES.defender,
  windowFilter: (from, to, settings) =>
    windowFilterOf(UPDATE_FIELD.defender, from, to, [
      anyOf('severity', settings.severityFilter),
      anyOf('status', settings.statusFilter),
      anyOf('detectionSource', settings.detectionSourceFilter),
    ]),
  streamName: (settings) =>
    streamNameOf('defender:alerts', [
      ['severity', settings.severityFilter],
      ['status', settings.statusFilter],
      ['detectionSource', settings.detectionSourceFilter],
    ]),
  expandsEvidence: true,
  followsNextLink: true,
  // List alerts documents $filter, $top, $skip and $expand only.
  countsAnswers: false,
  readPermissions: ['Alert.Read', 'Alert.ReadWrite', 'Alert.Read.All', 'Alert.ReadWrite.All'],
  audiences: ['https://api.securitycenter.microsoft.com', 'https://api.security.microsoft.com', 'https://api-gcc.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us'],
  missingPermission: (application) => ({
    lacks: application ? 'application role Alert.Read.All' : 'permission Alert.Read',
    fix: `in the app registration add WindowsDefenderATP → ${application ? 'application Alert.Read.All' : 'delegated Alert.Read'}, grant admin consent, then sign in again`,
  }),
  commercialScope: 'https://api.securitycenter.microsoft.com/.default',
  userLacksRole: 'the signed-in user lacks a Defender role with "View Data" (or access to the device groups). Ask a Defender administrator to grant it.',
  quota: CALL_QUOTAS.defender,
  retirement: DEFENDER_API_RETIREMENT,
};
