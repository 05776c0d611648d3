// Known alerts in the simulated tenant, so that the README's example queries and the shipped reporting
// assets have something to find in the demo database: a high-severity alert nobody has started on, and a
// resolved one on another device carrying the same file, both in one incident (with a known id). Random churn
// leaves them and their incident alone, so they stay so.
import type { AlertFactory, SimAlert } from './alertFactory.js';

export const SHOWCASE = {
  /** The alert id of the README's examples (the id of Microsoft's own example alert). */
  alertId: 'da637308392288907382_-880718168',
  resolvedAlertId: 'da637308392288907383_1284367590',
  /** The incident Defender XDR correlated both alerts into (the id of Microsoft's own example incident). */
  incidentId: '2972395',
  /** The file both alerts carry. */
  sha256: 'f40c23a2d5956c690e3def283e3b522157a3bde7db23154bd2b848b8e5fa7291',
} as const;

const HOUR_MS = 3_600_000;

function withFile(alert: SimAlert, fileName: string): SimAlert {
  const [first] = alert.evidence as Record<string, unknown>[];
  const file = { ...first, entityType: 'File', sha1: '9a0364b9e99bb480dd25e1f0284c8555b2a4e4c1', sha256: SHOWCASE.sha256, fileName, filePath: 'C:\\Users\\ana\\Downloads', detectionStatus: 'Detected' };
  return { ...alert, evidence: [file] };
}

/** The showcase alerts as of `nowMs`: created two and three days ago, the second resolved a day ago. */
export function showcaseAlerts(factory: AlertFactory, nowMs: number): SimAlert[] {
  const open = factory.create(nowMs - 48 * HOUR_MS);
  const resolved = factory.create(nowMs - 72 * HOUR_MS);
  return [
    withFile({
      ...open, id: SHOWCASE.alertId, incidentId: Number(SHOWCASE.incidentId), severity: 'High', status: 'New', detectionSource: 'WindowsDefenderAtp', category: 'Execution',
      title: 'Suspicious PowerShell command line', description: 'Suspicious PowerShell command line on wks-0142. Review the process tree and the related evidence.',
      computerDnsName: 'wks-0142.contoso.example', mitreTechniques: ['T1059.001'], threatFamilyName: null, threatName: null,
    }, 'invoice.pdf.exe'),
    withFile({
      ...resolved, id: SHOWCASE.resolvedAlertId, incidentId: Number(SHOWCASE.incidentId), severity: 'Medium', status: 'Resolved', detectionSource: 'WindowsDefenderAv', category: 'Malware',
      title: 'Malware was detected', description: 'Malware was detected on srv-sql-02. Review the process tree and the related evidence.',
      computerDnsName: 'srv-sql-02.contoso.example', mitreTechniques: ['T1204.002'], assignedTo: 'secops@contoso.example',
      classification: 'TruePositive', determination: 'Malware', investigationState: 'SuccessfullyRemediated',
      resolvedTime: factory.stamp(nowMs - 24 * HOUR_MS), lastUpdateTime: factory.updateStamp(nowMs - 24 * HOUR_MS, resolved.lastUpdateTime),
    }, 'invoice.pdf.exe'),
  ];
}
