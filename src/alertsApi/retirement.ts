// The Defender for Endpoint API's end: Microsoft's message-center notice MC1220762 says the Defender for
// Endpoint and Defender XDR APIs stop working after 1 February 2027, with no automatic migration; Microsoft
// Graph security/alerts_v2 is the documented successor. What the operator is told, and how a retired API's
// answer is recognised.
import type { Logger } from '../logger.js';

export interface ApiRetirement {
  /** The day after which the API stops answering (UTC). */
  date: string;
  /** That day at 00:00 UTC, for the metrics gauge. */
  atMs: number;
  notice: string;
}

export const DEFENDER_API_RETIREMENT: ApiRetirement = { date: '2027-02-01', atMs: Date.UTC(2027, 1, 1), notice: 'MC1220762' };

/**
 * The switch, in two steps: the permission, then the setting. The refresh token of the existing sign-in
 * serves Graph too, so `login` is needed only when the Graph token lacks the permission.
 */
export function switchToGraphSteps(application: boolean): [string, string] {
  return [
    `in the app registration add Microsoft Graph → ${application ? 'application' : 'delegated'} SecurityAlert.Read.All and grant admin consent` +
      (application ? '' : ' (the signed-in user needs the Security Reader role, or a Defender XDR role that can read alerts)'),
    'set source: graph (or MDE_ALERT_SYNC_SOURCE=graph) and start again: the database and its history stay; run "mde-alert-sync token" to check the Graph permission, and "mde-alert-sync login" only if it is missing',
  ];
}

export function retirementSummary(retirement: ApiRetirement): string {
  return `the Defender for Endpoint API stops working after ${retirement.date} (Microsoft's notice ${retirement.notice})`;
}

/** Every start of `run` and `sync` on a retiring source says so. */
export function warnOfRetirement(retirement: ApiRetirement | undefined, application: boolean, logger: Logger): void {
  if (!retirement) return;
  const [permission, setting] = switchToGraphSteps(application);
  logger.warn({ retiresOn: retirement.date }, `source defender: ${retirementSummary(retirement)}. Switch to Microsoft Graph before then: 1. ${permission}; 2. ${setting}.`);
}

const RETIREMENT_WORDS = /retir|deprecat|decommission|sunset|no longer (available|supported)|end of life/i;

/** 410 Gone, or a 404 / 400 whose body speaks of a retirement: the API itself is gone, not the request wrong. */
export function looksRetired(status: number, body: string): boolean {
  return status === 410 || ((status === 404 || status === 400) && RETIREMENT_WORDS.test(body));
}

export function retiredAnswerMessage(retirement: ApiRetirement, answer: string, application: boolean): string {
  const [permission, setting] = switchToGraphSteps(application);
  return (
    `The Defender for Endpoint API answered that it is retired (${answer}): ${retirementSummary(retirement)}. ` +
    `Switch to Microsoft Graph: 1. ${permission}; 2. ${setting}. Nothing stored was lost; see "Switching to Microsoft Graph" in the README.`
  );
}
