// Realistic Defender for Endpoint alerts: the documented fields, the undocumented ones seen live, evidence,
// and timestamps whose fraction digits vary from none to seven.
import { randomUUID } from 'node:crypto';
import { formatInstant, instantFromMs, parseInstant } from '../instants.js';

export type SimAlert = Record<string, unknown> & { id: string; lastUpdateTime: string };

/** A small seeded PRNG (mulberry32), so that a seed gives the same alerts every time. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FRACTION_DIGITS = [7, 7, 7, 7, 7, 6, 3, 2, 1, 0];

/** A timestamp at `ms` with 0-7 fraction digits, as the APIs send them; the text is exactly its instant. */
export function timestamp(random: () => number, ms: number): string {
  const ticks = instantFromMs(ms) + BigInt(Math.floor(random() * 10_000));
  const digits = FRACTION_DIGITS[Math.floor(random() * FRACTION_DIGITS.length)]!;
  const unit = 10n ** BigInt(7 - digits);
  const text = formatInstant((ticks / unit) * unit);
  return digits === 0 ? `${text.slice(0, 19)}Z` : `${text.slice(0, 20 + digits)}Z`;
}

/** A timestamp at `ms` later than `previous` (an update moves time forward). */
export function laterTimestamp(random: () => number, ms: number, previous: string | undefined): string {
  const text = timestamp(random, ms);
  const floor = previous === undefined ? undefined : parseInstant(previous);
  return floor !== undefined && parseInstant(text)! <= floor ? formatInstant(floor + 1n) : text;
}

const TITLES: [string, string, string][] = [
  ['Suspicious PowerShell command line', 'Execution', 'T1059.001'],
  ['Malware was detected', 'Malware', 'T1204.002'],
  ['Suspicious process injection observed', 'DefenseEvasion', 'T1055'],
  ['Possible credential dumping from LSASS', 'CredentialAccess', 'T1003.001'],
  ['Connection to a known command and control server', 'CommandAndControl', 'T1071.001'],
  ['Exploit attempt against a vulnerable application', 'Exploit', 'T1203'],
  ['Suspicious scheduled task created', 'Persistence', 'T1053.005'],
  ['Ransomware behavior detected in the file system', 'Ransomware', 'T1486'],
  ['Anomalous account lookups', 'Discovery', 'T1087'],
  ['Suspicious activity by an unsigned binary', 'SuspiciousActivity', 'T1036'],
];
const SEVERITIES = ['High', 'Medium', 'Medium', 'Low', 'Low', 'Low', 'Informational', 'UnSpecified'];
const DETECTION_SOURCES = ['WindowsDefenderAtp', 'WindowsDefenderAtp', 'WindowsDefenderAv', 'AutomatedInvestigation', 'CustomDetection', 'CustomerTI', 'MTP'];
const CLASSIFICATIONS: [string, string][] = [
  ['TruePositive', 'Malware'],
  ['TruePositive', 'SecurityTesting'],
  ['FalsePositive', 'Clean'],
  ['InformationalExpectedActivity', 'ConfirmedActivity'],
  ['FalsePositive', 'NotMalicious'],
];
const ANALYSTS = ['secops@contoso.example', 'tier1@contoso.example', 'Automation', 'API Action'];
const INVESTIGATION_STATES = ['Running', 'PendingApproval', 'SuccessfullyRemediated', 'Benign', 'UnsupportedAlertType', 'Queued'];
const HOSTS = ['wks-0142', 'wks-0077', 'srv-sql-02', 'srv-dc-01', 'laptop-ana', 'laptop-ben', 'kiosk-7'];

export class AlertFactory {
  private counter = 0;

  constructor(
    private readonly random: () => number,
    private readonly tenantId: string,
  ) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private hex(length: number): string {
    let out = '';
    while (out.length < length) out += Math.floor(this.random() * 16).toString(16);
    return out;
  }

  /** A timestamp at `ms` with 0-7 fraction digits, as the API sends them; the text is exactly its instant. */
  stamp(ms: number): string {
    return timestamp(this.random, ms);
  }

  /** A lastUpdateTime at `ms`, later than the alert's previous one (an update moves time forward). */
  updateStamp(ms: number, previous: string | undefined): string {
    return laterTimestamp(this.random, ms, previous);
  }

  private id(): string {
    this.counter += 1;
    const kind = this.random();
    if (kind < 0.6) return `da${String(638_000_000_000_000_000 + Math.floor(this.random() * 1e12) * 1000 + this.counter).slice(0, 18)}_${Math.floor(this.random() * 2 ** 31) * (this.random() < 0.5 ? -1 : 1)}`;
    if (kind < 0.85) return `ar${String(638_180_599_315_648_136 + this.counter)}_${Math.floor(this.random() * 1e8)}`;
    return `da${randomUUID()}_${this.counter % 7 + 1}`;
  }

  private evidence(at: number, host: string): Record<string, unknown>[] {
    const blank = {
      entityType: null, evidenceCreationTime: this.stamp(at), sha1: null, sha256: null, fileName: null, filePath: null,
      processId: null, processCommandLine: null, processCreationTime: null, parentProcessId: null,
      parentProcessCreationTime: null, parentProcessFileName: null, parentProcessFilePath: null, ipAddress: null,
      url: null, registryKey: null, registryHive: null, registryValueType: null, registryValue: null, accountName: null,
      domainName: null, userSid: null, aadUserId: null, userPrincipalName: null, detectionStatus: null,
    };
    const items: Record<string, unknown>[] = [];
    const count = 1 + Math.floor(this.random() * 4);
    for (let i = 0; i < count; i += 1) {
      const kind = this.pick(['File', 'Process', 'User', 'Ip', 'Url', 'Registry']);
      const item: Record<string, unknown> = { ...blank, entityType: kind };
      if (kind === 'File' || kind === 'Process') {
        Object.assign(item, { sha1: this.hex(40), sha256: this.hex(64), fileName: this.pick(['powershell.exe', 'invoice.pdf.exe', 'rundll32.exe', 'update.dll']), filePath: 'C:\\Users\\ana\\AppData\\Local\\Temp', detectionStatus: this.pick(['Detected', 'Blocked', 'Prevented', null]) });
      }
      if (kind === 'Process') {
        Object.assign(item, { processId: 1000 + Math.floor(this.random() * 9000), processCommandLine: 'powershell.exe -NoP -W Hidden -Enc SQBFAFgA...', processCreationTime: this.stamp(at - 60_000), parentProcessId: 4000 + Math.floor(this.random() * 1000), parentProcessFileName: 'explorer.exe' });
      }
      if (kind === 'User') Object.assign(item, { accountName: 'ana', domainName: 'CONTOSO', userSid: `S-1-5-21-${Math.floor(this.random() * 1e9)}-1104`, aadUserId: randomUUID(), userPrincipalName: 'ana@contoso.example' });
      if (kind === 'Ip') item.ipAddress = `203.0.113.${Math.floor(this.random() * 254) + 1}`;
      if (kind === 'Url') item.url = `http://malicious-${this.hex(6)}.example/payload`;
      if (kind === 'Registry') Object.assign(item, { registryKey: 'SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', registryHive: 'HKEY_LOCAL_MACHINE', registryValueType: 'String', registryValue: `${host}-updater` });
      items.push(item);
    }
    return items;
  }

  /** A new alert created at `createdMs`, whose last update is `updatedMs` (default: the creation). */
  create(createdMs: number, updatedMs = createdMs): SimAlert {
    const [title, category, technique] = this.pick(TITLES);
    const host = this.pick(HOSTS);
    const creation = this.stamp(createdMs);
    return {
      id: this.id(),
      incidentId: 1000 + Math.floor(this.random() * 90_000),
      investigationId: this.random() < 0.4 ? Math.floor(this.random() * 9000) : null,
      assignedTo: null,
      severity: this.pick(SEVERITIES),
      status: 'New',
      classification: null,
      determination: null,
      investigationState: this.random() < 0.5 ? 'Queued' : 'UnsupportedAlertType',
      detectionSource: this.pick(DETECTION_SOURCES),
      detectorId: randomUUID(),
      category,
      threatFamilyName: category === 'Malware' ? this.pick(['Emotet', 'Qakbot', 'CobaltStrike']) : null,
      title,
      description: `${title} on ${host}. Review the process tree and the related evidence.`,
      alertCreationTime: creation,
      firstEventTime: this.stamp(createdMs - 120_000),
      lastEventTime: this.stamp(createdMs - 30_000),
      lastUpdateTime: updatedMs === createdMs ? creation : this.updateStamp(updatedMs, creation),
      resolvedTime: null,
      machineId: this.hex(40),
      computerDnsName: `${host}.contoso.example`,
      rbacGroupName: this.pick(['Workstations', 'Servers', 'UnassignedGroup']),
      aadTenantId: this.tenantId,
      threatName: category === 'Malware' ? 'Trojan:Win32/Wacatac.B!ml' : null,
      mitreTechniques: [technique],
      relatedUser: this.random() < 0.7 ? { userName: 'ana', domainName: 'CONTOSO' } : null,
      loggedOnUsers: [{ accountName: 'ana', domainName: 'CONTOSO' }],
      comments: [],
      evidence: this.evidence(createdMs, host),
      domains: [],
      // A field the documentation does not list: clients must keep what they do not know.
      detectionStatusDetails: { engineVersion: '1.1.24010.10', signatureVersion: `1.405.${Math.floor(this.random() * 900)}.0` },
    };
  }

  /** The next state of an alert as an analyst or automation works on it. */
  change(alert: SimAlert, atMs: number): SimAlert {
    const next: SimAlert = { ...alert, comments: [...((alert.comments as unknown[]) ?? [])] };
    const step = this.random();
    if (alert.status === 'New' && step < 0.5) {
      next.status = 'InProgress';
      next.assignedTo = this.pick(ANALYSTS);
    } else if (alert.status !== 'Resolved' && step < 0.8) {
      const [classification, determination] = this.pick(CLASSIFICATIONS);
      Object.assign(next, { status: 'Resolved', classification, determination, resolvedTime: this.stamp(atMs), investigationState: this.pick(INVESTIGATION_STATES) });
      next.assignedTo ??= this.pick(ANALYSTS);
    } else {
      (next.comments as unknown[]).push({ comment: this.pick(['Escalated to tier 2', 'User confirmed the activity', 'Isolated the device', 'Closed after review']), createdBy: this.pick(ANALYSTS), createdTime: this.stamp(atMs) });
    }
    next.lastUpdateTime = this.updateStamp(atMs, alert.lastUpdateTime);
    return next;
  }
}
