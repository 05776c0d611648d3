// A pass over every stream the settings name, one after the other (the alerts, then Graph's incidents), each
// with its own cursor, its own run in sync_runs and its own transactions: a failure of one is recorded as its
// run's outcome and does not stop or roll back the other. Only a shutdown or a lost sign-in ends the pass
// early, since the next stream would meet the same.
import type { AlertsClient } from '../alertsApi/alertsClient.js';
import { SignInRequiredError } from '../errors.js';
import type { RecordEntity } from '../recordEntity.js';
import { runSyncPass, type SyncPassDependencies, type SyncPassResult } from './syncPass.js';

export interface StreamOutcome {
  stream: string;
  entity: RecordEntity;
  result?: SyncPassResult;
  error?: unknown;
}

export type StreamPassesDependencies = Omit<SyncPassDependencies, 'client'> & { clients: readonly AlertsClient[] };

export async function runStreamPasses({ clients, ...dependencies }: StreamPassesDependencies): Promise<StreamOutcome[]> {
  const outcomes: StreamOutcome[] = [];
  for (const client of clients) {
    const { profile } = client;
    const named = { stream: profile.streamName(dependencies.settings), entity: profile.entity };
    try {
      outcomes.push({ ...named, result: await runSyncPass({ ...dependencies, client }) });
    } catch (error) {
      outcomes.push({ ...named, error });
      if (dependencies.signal?.aborted || error instanceof SignInRequiredError) break;
    }
  }
  return outcomes;
}

/** The first stream's failure, if any stream failed: what the pass as a whole reports. */
export function firstFailure(outcomes: readonly StreamOutcome[]): StreamOutcome | undefined {
  return outcomes.find((outcome) => outcome.error !== undefined);
}
