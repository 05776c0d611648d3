// From a Microsoft Graph alerts_v2 alert to the same reporting rows as a Defender alert, so that the views
// answer the same questions whichever API filled the database. Enums take the Defender API's spelling
// (high → High, inProgress → InProgress, unknown severity → UnSpecified, antivirus → WindowsDefenderAv);
// the device and related user come from the deviceEvidence and first userEvidence; evidence rows are read
// by their @odata.type.
import { canonicalTimestamp } from '../instants.js';
import type { AlertColumns, CommentRow, EvidenceRow } from './alertRows.js';
import { evidenceRow, integer, isObject, text } from './jsonFields.js';

type Json = Record<string, unknown>;

export const pascal = (value: unknown): string | null => {
  const t = text(value);
  return t === null || t === '' ? t : t[0]!.toUpperCase() + t.slice(1);
};
export const severity = (value: unknown): string | null => (value === 'unknown' ? 'UnSpecified' : pascal(value));
const object = (value: unknown): Json => (isObject(value) ? value : {});

/** Graph's detectionSource values the Defender API names differently; the others are PascalCased. */
const DEFENDER_DETECTION_SOURCE: Record<string, string> = {
  microsoftDefenderForEndpoint: 'WindowsDefenderAtp',
  antivirus: 'WindowsDefenderAv',
  smartScreen: 'WindowsDefenderSmartScreen',
  customTi: 'CustomerTI',
  microsoftDefenderForOffice365: 'OfficeATP',
  microsoftThreatExperts: 'ThreatExperts',
  microsoft365Defender: 'MTP',
};
const detectionSource = (value: unknown): string | null => (typeof value === 'string' && Object.hasOwn(DEFENDER_DETECTION_SOURCE, value) ? DEFENDER_DETECTION_SOURCE[value]! : pascal(value));

/** "#microsoft.graph.security.fileEvidence" → "File"; Defender's names for the kinds it shares. */
function entityType(odataType: unknown): string | null {
  const kind = /\.(\w+)Evidence$/.exec(String(odataType ?? ''))?.[1];
  if (!kind) return text(odataType);
  const known: Record<string, string> = { file: 'File', process: 'Process', user: 'User', ip: 'Ip', url: 'Url', registryKey: 'Registry', registryValue: 'Registry', device: 'Machine' };
  return known[kind] ?? pascal(kind);
}

function graphEvidenceRows(value: unknown): EvidenceRow[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isObject).map((e, ordinal) => {
    const file = object(e.fileDetails ?? e.imageFile);
    const account = object(e.userAccount);
    return evidenceRow(ordinal, e, {
      entity_type: entityType(e['@odata.type']),
      evidence_creation_time: canonicalTimestamp(e.createdDateTime),
      sha1: text(file.sha1),
      sha256: text(file.sha256),
      file_name: text(file.fileName),
      file_path: text(file.filePath),
      process_id: integer(e.processId),
      process_command_line: text(e.processCommandLine),
      process_creation_time: canonicalTimestamp(e.processCreationDateTime),
      parent_process_id: integer(e.parentProcessId),
      parent_process_file_name: text(object(e.parentProcessImageFile).fileName),
      ip_address: text(e.ipAddress),
      url: text(e.url),
      registry_key: text(e.registryKey),
      registry_hive: text(e.registryHive),
      registry_value: text(e.registryValue),
      account_name: text(account.accountName),
      domain_name: text(account.domainName),
      user_sid: text(account.userSid),
      aad_user_id: text(account.azureAdUserId),
      user_principal_name: text(account.userPrincipalName),
      detection_status: pascal(e.detectionStatus),
    });
  });
}

export function graphAlertColumns(alert: Json): { row: AlertColumns; evidence: EvidenceRow[]; comments: CommentRow[] } {
  const evidence = Array.isArray(alert.evidence) ? alert.evidence.filter(isObject) : [];
  const device = evidence.find((e) => String(e['@odata.type']).endsWith('.deviceEvidence')) ?? {};
  const user = object(evidence.find((e) => String(e['@odata.type']).endsWith('.userEvidence'))?.userAccount);
  return {
    row: {
      title: text(alert.title),
      description: text(alert.description),
      severity: severity(alert.severity),
      status: pascal(alert.status),
      classification: pascal(alert.classification),
      determination: pascal(alert.determination),
      investigation_state: null, // Graph alerts do not carry it
      category: text(alert.category),
      detection_source: detectionSource(alert.detectionSource),
      detector_id: text(alert.detectorId),
      threat_family_name: text(alert.threatFamilyName),
      threat_name: text(alert.threatDisplayName),
      assigned_to: text(alert.assignedTo),
      incident_id: integer(alert.incidentId),
      investigation_id: null,
      alert_creation_time: canonicalTimestamp(alert.createdDateTime),
      first_event_time: canonicalTimestamp(alert.firstActivityDateTime),
      last_event_time: canonicalTimestamp(alert.lastActivityDateTime),
      resolved_time: canonicalTimestamp(alert.resolvedDateTime),
      machine_id: text(device.mdeDeviceId),
      computer_dns_name: text(device.deviceDnsName),
      rbac_group_name: text(device.rbacGroupName),
      aad_tenant_id: text(alert.tenantId),
      related_user_name: text(user.accountName),
      related_user_domain: text(user.domainName),
    },
    evidence: graphEvidenceRows(alert.evidence),
    comments: (Array.isArray(alert.comments) ? alert.comments : []).filter(isObject).map((c, ordinal) => ({
      ordinal,
      comment: text(c.comment),
      created_by: text(c.createdByDisplayName),
      created_time: canonicalTimestamp(c.createdDateTime),
    })),
  };
}
