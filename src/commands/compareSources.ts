// `compare-sources --since 7d`: reads one span from both APIs (the Defender API and Microsoft Graph
// alerts_v2) with the sync's own window reader, loss-free, and reports the alerts one returned and the
// other did not, by reason. It writes nothing: no alert, no cursor, no run; it does not open the database.
import { checkAccessToken } from '../auth/accessTokenClaims.js';
import type { AlertSource, Settings } from '../config/settings.js';
import { ExitCode, PermissionDeniedError, UserFacingError } from '../errors.js';
import { formatInstant, instantFromMs, parseInstant, TICKS_PER_MS, type Instant } from '../instants.js';
import type { Logger } from '../logger.js';
import { ReceivedAlert } from '../receivedAlert.js';
import { readAlertWindows } from '../sync/alertsWindow.js';
import { apiWindowSource } from '../sync/apiWindowSource.js';
import { createWorker, type Worker } from './worker.js';
import {
  coverageReason,
  groupByReason,
  oneSided,
  serviceOfDefenderAlert,
  settingsForSource,
  type DifferenceGroup,
  type Reason,
  type SeenAlert,
  type SeenAlerts,
} from './sourceComparison.js';

export interface CompareOptions {
  since: Instant;
  json: boolean;
}

export interface ComparisonReport {
  since: string;
  /** The earlier read's server time: alerts updated later are "changed while comparing". */
  until: string;
  signedInAs: string;
  serviceSourceFilter: string[] | 'all';
  counts: { defender: number; graph: number; both: number; onlyDefender: number; onlyGraph: number; knownDifferences: number; disagreements: number };
  groups: DifferenceGroup[];
  requests: Record<AlertSource, number>;
  agree: boolean;
}

const SOURCE_NAMES: Record<AlertSource, string> = { defender: 'the Defender API', graph: 'Microsoft Graph' };
/** Ids listed per group in the text report; --json lists them all. */
const LISTED_IDS = 50;

/** What a read keeps of an alert: its id, update time, and service (parsed from its JSON). */
function seen(alert: unknown, source: AlertSource): [string, SeenAlert] | undefined {
  const received = alert instanceof ReceivedAlert ? alert : undefined;
  const body = (received ? JSON.parse(received.text()) : alert) as Record<string, unknown> | null;
  const lastUpdate = parseInstant(received ? received.lastUpdateTime : body?.[source === 'graph' ? 'lastUpdateDateTime' : 'lastUpdateTime']);
  const id = received ? received.id : body?.id;
  if (typeof id !== 'string' || lastUpdate === undefined) return undefined; // a sync would reject it too
  const service = source === 'graph' ? String(body?.serviceSource ?? 'unknown') : serviceOfDefenderAlert(body?.detectionSource);
  return [id, { lastUpdate, service }];
}

/** Every alert of [from, server now) the source returns, read like a sync pass reads it; nothing is written. */
async function readSpan(worker: Worker, settings: Settings, from: Instant): Promise<{ alerts: SeenAlerts; horizon: Instant }> {
  const { client } = worker;
  const { profile } = client;
  const alerts: SeenAlerts = new Map();
  const { horizon } = await readAlertWindows({
    from,
    top: settings.pageSize,
    localNow: () => instantFromMs(Date.now()),
    source: apiWindowSource(client, settings, { expandEvidence: false }),
    // The "commit" of a comparison collects; the newest version read of an alert wins.
    commit: (page) => {
      for (const alert of page) {
        const entry = seen(alert, profile.source);
        const known = entry && alerts.get(entry[0]);
        if (entry && (!known || known.lastUpdate < entry[1].lastUpdate)) alerts.set(entry[0], entry[1]);
      }
    },
  });
  return { alerts, horizon };
}

/** Both tokens first: a missing permission for either API is named before anything is read. */
async function signedInFor(workers: Record<AlertSource, Worker>, settings: Record<AlertSource, Settings>): Promise<string> {
  let username = '';
  for (const source of ['defender', 'graph'] as const) {
    const access = await workers[source].session.accessToken();
    username = access.username;
    const check = checkAccessToken(access.token, settings[source].apiBaseUrl, workers[source].client.profile);
    if (!check.ok) {
      throw new PermissionDeniedError(
        `compare-sources reads both APIs, and the ${workers[source].client.profile.apiName} token of ${access.username} cannot read alerts: ${check.problems.join('; ')}.`,
      );
    }
  }
  return username;
}

export async function compareSourcesCommand(settings: Settings, logger: Logger, print: (line: string) => void, options: CompareOptions): Promise<ComparisonReport> {
  const perSource = { defender: settingsForSource(settings, 'defender'), graph: settingsForSource(settings, 'graph') };
  const workers = { defender: createWorker(perSource.defender, logger), graph: createWorker(perSource.graph, logger) };
  try {
    const signedInAs = await signedInFor(workers, perSource);
    logger.info({ since: formatInstant(options.since) }, 'reading the span from the Defender API, then from Microsoft Graph');
    const defender = await readSpan(workers.defender, perSource.defender, options.since);
    const graph = await readSpan(workers.graph, perSource.graph, options.since);
    const report = await compareReads(workers, perSource, settings, { defender, graph }, options.since, signedInAs);
    print(options.json ? JSON.stringify(report, null, 2) : formatComparison(report).join('\n'));
    if (!report.agree) {
      throw new UserFacingError(
        `The sources disagree on ${report.counts.disagreements} alert(s) (listed above). Look at them in the Defender portal before switching; nothing was written.`,
        ExitCode.sourcesDisagree,
      );
    }
    return report;
  } finally {
    await workers.defender.close();
    await workers.graph.close();
  }
}

type Reads = Record<AlertSource, { alerts: SeenAlerts; horizon: Instant }>;

/**
 * Explains each one-sided alert: coverage first, then a change during the reads (its version is newer than
 * the first read's start), then a re-check of the API that lacked it, from that start (minus settleLag, for
 * alerts indexed late) to now; what the re-check does not find either is a disagreement.
 */
async function compareReads(workers: Record<AlertSource, Worker>, perSource: Record<AlertSource, Settings>, settings: Settings, reads: Reads, since: Instant, signedInAs: string): Promise<ComparisonReport> {
  const started = reads.defender.horizon < reads.graph.horizon ? reads.defender.horizon : reads.graph.horizon;
  const { both, oneSided: sided } = oneSided(reads.defender.alerts, reads.graph.alerts);
  const classified: { seenBy: AlertSource; id: string; reason: Reason }[] = [];
  const recheck: Record<AlertSource, string[]> = { defender: [], graph: [] };
  for (const { seenBy, id, alert } of sided) {
    const reason = coverageReason(seenBy, alert, settings.serviceSourceFilter) ?? (alert.lastUpdate >= started ? 'changedWhileComparing' : undefined);
    if (reason) classified.push({ seenBy, id, reason });
    else recheck[seenBy === 'defender' ? 'graph' : 'defender'].push(id);
  }
  for (const lacking of ['defender', 'graph'] as const) {
    if (recheck[lacking].length === 0) continue;
    const from = started - BigInt(settings.settleLag) * TICKS_PER_MS;
    const again = await readSpan(workers[lacking], perSource[lacking], from > since ? from : since);
    const seenBy: AlertSource = lacking === 'defender' ? 'graph' : 'defender';
    for (const id of recheck[lacking]) {
      classified.push({ seenBy, id, reason: again.alerts.has(id) ? 'changedWhileComparing' : lacking === 'graph' ? 'graphDoesNotReturn' : 'defenderDoesNotReturn' });
    }
  }
  const groups = groupByReason(classified);
  const total = (disagreement: boolean) => groups.filter((g) => g.disagreement === disagreement).reduce((sum, g) => sum + g.ids.length, 0);
  const disagreements = total(true);
  return {
    since: formatInstant(since),
    until: formatInstant(started),
    signedInAs,
    serviceSourceFilter: settings.serviceSourceFilter.length === 0 ? 'all' : settings.serviceSourceFilter,
    counts: {
      defender: reads.defender.alerts.size,
      graph: reads.graph.alerts.size,
      both,
      onlyDefender: sided.filter((s) => s.seenBy === 'defender').length,
      onlyGraph: sided.filter((s) => s.seenBy === 'graph').length,
      knownDifferences: total(false),
      disagreements,
    },
    groups,
    requests: { defender: workers.defender.client.stats.requests, graph: workers.graph.client.stats.requests },
    agree: disagreements === 0,
  };
}

export function formatComparison(report: ComparisonReport): string[] {
  const { counts } = report;
  const lines = [
    `Compared the Defender API and Microsoft Graph (security/alerts_v2) over alerts updated since ${report.since} (the first read began at ${report.until}), as ${report.signedInAs}; ` +
      `serviceSourceFilter: ${report.serviceSourceFilter === 'all' ? 'all' : report.serviceSourceFilter.join(', ')}. Nothing was written.`,
    `  In both:                ${counts.both}`,
    `  Only the Defender API:  ${counts.onlyDefender}`,
    `  Only Microsoft Graph:   ${counts.onlyGraph}`,
    `  (the Defender API returned ${counts.defender}, Microsoft Graph ${counts.graph}, in ${report.requests.defender} and ${report.requests.graph} request(s))`,
  ];
  for (const disagreement of [false, true]) {
    const groups = report.groups.filter((g) => g.disagreement === disagreement);
    if (groups.length === 0) continue;
    lines.push('', disagreement ? 'Disagreements:' : 'Known differences (not disagreements):');
    for (const group of groups) {
      lines.push(`  Seen only by ${SOURCE_NAMES[group.seenBy]}: ${group.description}: ${group.ids.length}`);
      for (const id of group.ids.slice(0, LISTED_IDS)) lines.push(`    ${id}`);
      if (group.ids.length > LISTED_IDS) lines.push(`    … and ${group.ids.length - LISTED_IDS} more (--json lists all)`);
    }
  }
  lines.push(
    '',
    report.agree
      ? `The sources agree: ${counts.both} alert(s) in both${counts.knownDifferences ? `, ${counts.knownDifferences} known difference(s)` : ''}.`
      : `The sources disagree on ${counts.disagreements} alert(s).`,
  );
  return lines;
}
