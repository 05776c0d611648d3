// What the window reader, the client, the cursor and the change history need to know about one versioned
// record stream (alerts of one API, Graph's incidents, …): where its pages are, the field its versions are
// ordered by, how many records a page may hold, the permissions that read it. A new entity is a profile like
// this, a row mapping in src/store and a migration; the reader, client and cursor stay as they are.
import type { AlertSource, CALL_QUOTAS, Settings } from '../config/settings.js';
import type { Instant } from '../instants.js';
import type { ApiRetirement } from './retirement.js';

import type { RecordEntity } from '../recordEntity.js';

export type WindowFilterSettings = Pick<Settings, 'severityFilter' | 'statusFilter' | 'detectionSourceFilter' | 'serviceSourceFilter'>;

export interface RecordStreamProfile {
  entity: RecordEntity;
  /** The API the records come from. */
  source: AlertSource;
  /** The API's name in messages. */
  apiName: string;
  /** The path of the list under apiBaseUrl. */
  path: string;
  /** The name of the field the cursor follows. */
  updateField: string;
  /** The name of the field that holds the record's creation time. */
  createdField: string;
  /** The largest $top the API accepts for this list; pageSize is lowered to it. */
  maxPageSize: number;
  /** $filter for records updated in [from, to) (to = null: up to the server's now), with the server-side filters. */
  windowFilter(from: Instant, to: Instant | null, settings: WindowFilterSettings): string;
  /** The server-side filters that make the stream: a cursor belongs to the query it was read with. */
  streamName(settings: WindowFilterSettings): string;
  /** Whether evidence is asked for with $expand (the Defender API's alerts); never for other entities. */
  expandsEvidence: boolean;
  /**
   * Whether @odata.nextLink pages are read (Defender adds them rarely) or only mark the answer as having more
   * (Graph pages by them). Each page is a request with a live $skip; the window logic splits such answers.
   */
  followsNextLink: boolean;
  /** Whether the API documents $count=true (@odata.count in the answer), used only to size windows: Graph alerts_v2 does, the Defender API does not. */
  countsAnswers: boolean;
  /** Delegated and application permissions that can read the list. */
  readPermissions: readonly string[];
  /** Token audiences of this API in every cloud (the configured host is accepted too). */
  audiences: readonly string[];
  /** The read permission a token lacks, and how to grant it. */
  missingPermission(application: boolean): { lacks: string; fix: string };
  /** The scope to sign in with in the commercial cloud, for messages. */
  commercialScope: string;
  /** A 403 although the token carries the permission: what the user lacks. */
  userLacksRole: string;
  /** The API's documented request limit: the client's default (callsPerMinute / callsPerHour lower it). */
  quota: (typeof CALL_QUOTAS)[AlertSource];
  /** When the API stops working, if Microsoft has announced it. */
  retirement?: ApiRetirement;
}
