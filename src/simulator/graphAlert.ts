// The same alert as Microsoft Graph's security alerts_v2 shows it (the fields of the example in Microsoft's
// "List alerts_v2" page): camelCase enums, *DateTime names, the device and the user as evidence, evidence
// typed by @odata.type, serviceSource. The simulator serves one tenant through both APIs, so that a
// database can move from one to the other.
import type { SimAlert } from './alertFactory.js';

const camel = (value: unknown): unknown => (typeof value === 'string' && value !== '' ? value[0]!.toLowerCase() + value.slice(1) : value);

const GRAPH_SEVERITY: Record<string, string> = { UnSpecified: 'unknown', Informational: 'informational', Low: 'low', Medium: 'medium', High: 'high' };
const GRAPH_DETECTION_SOURCE: Record<string, string> = {
  WindowsDefenderAtp: 'microsoftDefenderForEndpoint',
  WindowsDefenderAv: 'antivirus',
  AutomatedInvestigation: 'automatedInvestigation',
  CustomDetection: 'customDetection',
  CustomerTI: 'customTi',
  MTP: 'microsoft365Defender',
};

/** Alerts raised by Microsoft 365 Defender's own correlation (detectionSource MTP) come from that service. */
export function serviceSourceOf(alert: SimAlert): string {
  return alert.detectionSource === 'MTP' ? 'microsoft365Defender' : 'microsoftDefenderForEndpoint';
}

function fileDetails(item: Record<string, unknown>): Record<string, unknown> {
  return { sha1: item.sha1, sha256: item.sha256, fileName: item.fileName, filePath: item.filePath, fileSize: null, filePublisher: null, signer: null, issuer: null };
}

function graphEvidence(item: Record<string, unknown>): Record<string, unknown> {
  const common = { createdDateTime: item.evidenceCreationTime, verdict: 'suspicious', remediationStatus: 'none', remediationStatusDetails: null, roles: [], tags: [] };
  switch (item.entityType) {
    case 'File':
      return { '@odata.type': '#microsoft.graph.security.fileEvidence', ...common, detectionStatus: camel(item.detectionStatus) ?? null, mdeDeviceId: null, fileDetails: fileDetails(item) };
    case 'Process':
      return {
        '@odata.type': '#microsoft.graph.security.processEvidence', ...common, processId: item.processId, processCommandLine: item.processCommandLine,
        processCreationDateTime: item.processCreationTime, parentProcessId: item.parentProcessId, parentProcessCreationDateTime: null,
        parentProcessImageFile: { fileName: item.parentProcessFileName, filePath: null }, imageFile: fileDetails(item), detectionStatus: camel(item.detectionStatus) ?? null,
      };
    case 'User':
      return { '@odata.type': '#microsoft.graph.security.userEvidence', ...common, userAccount: { accountName: item.accountName, domainName: item.domainName, userSid: item.userSid, azureAdUserId: item.aadUserId, userPrincipalName: item.userPrincipalName, displayName: null } };
    case 'Ip':
      return { '@odata.type': '#microsoft.graph.security.ipEvidence', ...common, ipAddress: item.ipAddress, countryLetterCode: null };
    case 'Url':
      return { '@odata.type': '#microsoft.graph.security.urlEvidence', ...common, url: item.url };
    default:
      return { '@odata.type': '#microsoft.graph.security.registryValueEvidence', ...common, registryKey: item.registryKey, registryHive: item.registryHive, registryValue: item.registryValue, registryValueType: item.registryValueType, registryValueName: null };
  }
}

/** The alert's triage fields as Graph shows them (camelCase enums). */
function graphTriage(alert: SimAlert): Record<string, unknown> {
  return {
    status: camel(alert.status),
    severity: GRAPH_SEVERITY[String(alert.severity)] ?? camel(alert.severity),
    classification: camel(alert.classification) ?? null,
    determination: camel(alert.determination) ?? null,
  };
}

/** What an incident takes from its alert, in Graph's terms, without building the whole alert (large tenants seed fast). */
export function graphAlertSummary(alert: SimAlert): Record<string, unknown> {
  return { ...graphTriage(alert), title: alert.title, category: alert.category, createdDateTime: alert.alertCreationTime, lastUpdateDateTime: alert.lastUpdateTime };
}

export function toGraphAlert(alert: SimAlert): Record<string, unknown> {
  const host = alert.computerDnsName;
  const device = {
    '@odata.type': '#microsoft.graph.security.deviceEvidence', createdDateTime: alert.alertCreationTime, verdict: 'suspicious', remediationStatus: 'none',
    remediationStatusDetails: null, roles: [], tags: [], mdeDeviceId: alert.machineId, deviceDnsName: host, azureAdDeviceId: null, osPlatform: 'Windows11',
    healthStatus: 'active', riskScore: 'medium', rbacGroupName: alert.rbacGroupName, onboardingStatus: 'onboarded', loggedOnUsers: alert.loggedOnUsers,
  };
  const user = alert.relatedUser as { userName?: string; domainName?: string } | null;
  const relatedUser = user ? [{ '@odata.type': '#microsoft.graph.security.userEvidence', createdDateTime: alert.alertCreationTime, verdict: 'unknown', remediationStatus: 'none', roles: [], tags: [], userAccount: { accountName: user.userName, domainName: user.domainName, userSid: null, azureAdUserId: null, userPrincipalName: null, displayName: null } }] : [];
  // A value of the wrong type (the bad-input tests serve some) is shown as it is, like the real service would.
  const evidence = Array.isArray(alert.evidence) ? [device, ...relatedUser, ...(alert.evidence as Record<string, unknown>[]).map(graphEvidence)] : alert.evidence;
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id: alert.id,
    providerAlertId: alert.id,
    incidentId: alert.incidentId === null || alert.incidentId === undefined ? null : String(alert.incidentId),
    ...graphTriage(alert),
    serviceSource: serviceSourceOf(alert),
    detectionSource: GRAPH_DETECTION_SOURCE[String(alert.detectionSource)] ?? camel(alert.detectionSource),
    productName: 'Microsoft Defender for Endpoint',
    detectorId: alert.detectorId,
    tenantId: alert.aadTenantId,
    title: alert.title,
    description: alert.description,
    recommendedActions: null,
    category: alert.category,
    assignedTo: alert.assignedTo,
    alertWebUrl: `https://security.microsoft.com/alerts/${alert.id}`,
    incidentWebUrl: `https://security.microsoft.com/incidents/${String(alert.incidentId)}`,
    actorDisplayName: null,
    threatDisplayName: alert.threatName,
    threatFamilyName: alert.threatFamilyName,
    mitreTechniques: alert.mitreTechniques,
    createdDateTime: alert.alertCreationTime,
    lastUpdateDateTime: alert.lastUpdateTime,
    resolvedDateTime: alert.resolvedTime,
    firstActivityDateTime: alert.firstEventTime,
    lastActivityDateTime: alert.lastEventTime,
    comments: ((alert.comments as { comment?: unknown; createdBy?: unknown; createdTime?: unknown }[]) ?? []).map((c) => ({ '@odata.type': 'microsoft.graph.security.alertComment', comment: c.comment, createdByDisplayName: c.createdBy, createdDateTime: c.createdTime })),
    systemTags: [],
    evidence, // inline: Graph has no $expand for it
  };
}
