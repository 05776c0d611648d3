// Configuration: one flat set of keys, read from a YAML file and from MDE_ALERT_SYNC_<KEY> environment
// variables (which win), validated as a whole so that one message names every bad key.
import { getHeapStatistics } from 'node:v8';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import cron from 'node-cron';
import { z } from 'zod';
import { ConfigurationError, errorMessage } from '../errors.js';
import { CLOUD_ENDPOINTS, CLOUDS, sourceEndpoint, type Cloud } from './clouds.js';
import { formatDuration, parseDuration } from './durations.js';
import { databasePathProblem, expandHome, LocalFileError, MAX_CONFIG_FILE_BYTES, readBoundedText } from './localFiles.js';

export const ENV_PREFIX = 'MDE_ALERT_SYNC_';
/** Who checkpoints the WAL: `worker` (this program, after each pass) or `external` (Litestream). */
export const WAL_CHECKPOINTS = ['worker', 'external'] as const;
export const DEFAULT_WAL_SIZE_LIMIT_MEGABYTES = 64;
export const CONFIG_PATH_ENV = `${ENV_PREFIX}CONFIG`;
/** The token cache key is a secret: only from the environment (or a key file), never from the config file. */
export const TOKEN_CACHE_KEY_ENV = `${ENV_PREFIX}TOKEN_CACHE_KEY`;
const MIN_KEY_LENGTH = 16;
export const PASSWORD_ENV = `${ENV_PREFIX}PASSWORD`;
export const CLIENT_SECRET_ENV = `${ENV_PREFIX}CLIENT_SECRET`;
/** Secrets come from the environment or from files, never from the configuration file. */
const SECRET_ENVS = [TOKEN_CACHE_KEY_ENV, PASSWORD_ENV, CLIENT_SECRET_ENV];
const SECRETS_IN_FILE: Record<string, string> = {
  password: `${PASSWORD_ENV} or passwordFile`,
  clientSecret: `${CLIENT_SECRET_ENV} or clientSecretFile`,
  tokenCacheKey: `${TOKEN_CACHE_KEY_ENV} or tokenCacheKeyFile`,
};
export const AUTH_FLOWS = ['deviceCode', 'password', 'clientCredentials'] as const;

/**
 * The text of `file` for a check (a regular file of at most 1 MiB), or undefined after adding the issue that
 * `unreadable` words from why it cannot be read: what it is instead, or the file system's code.
 */
function readForCheck(file: string, ctx: z.RefinementCtx, unreadable: (why: string, code: string) => string): string | undefined {
  try {
    return readBoundedText(file);
  } catch (error) {
    const code = error instanceof LocalFileError ? (error.code ?? 'unreadable') : ((error as NodeJS.ErrnoException).code ?? errorMessage(error));
    ctx.addIssue({ code: 'custom', message: unreadable(error instanceof LocalFileError ? error.message : `cannot be read (${code})`, code) });
    return undefined;
  }
}

/** A path to a readable file whose contents pass `problem` (which says what is wrong with them, if anything). */
function fileWhose(problem: (contents: string, file: string) => string | undefined, unreadableHint = '') {
  return z
    .string()
    .min(1)
    .superRefine((file, ctx) => {
      const contents = readForCheck(file, ctx, (why, code) => `${why.startsWith('cannot be read') ? `cannot read ${file} (${code})` : `${file} ${why}`}${unreadableHint}`);
      const message = contents === undefined ? undefined : problem(contents, file);
      if (message) ctx.addIssue({ code: 'custom', message });
    });
}

/**
 * A key that names the file holding a secret. Its value is never printed: a secret pasted into it by mistake
 * would reach the logs. Messages name the key (and where it was set) instead, and `problem` describes the
 * contents without quoting them.
 */
function secretFile(holds: string, itself: string, problem: (contents: string) => string | undefined) {
  return z
    .string()
    .min(1)
    .superRefine((file, ctx) => {
      const contents = readForCheck(file, ctx, (why) => `the file it names ${why}${why.startsWith('cannot be read') ? `: it must hold the path of a file containing ${holds}, not ${itself} itself` : ''}`);
      const message = contents === undefined ? undefined : problem(contents);
      if (message) ctx.addIssue({ code: 'custom', message: `the file it names ${message}` });
    });
}

const nonEmptySecretFile = (what: string) => secretFile(what, what, (contents) => (contents.trim() === '' ? `is empty: it must hold ${what}` : undefined));

export const SEVERITIES = ['UnSpecified', 'Informational', 'Low', 'Medium', 'High'] as const;
export const STATUSES = ['Unknown', 'New', 'InProgress', 'Resolved'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const SOURCES = ['defender', 'graph'] as const;
export type AlertSource = (typeof SOURCES)[number];
/** Each API's maximum page size: "Maximum page size is 10,000" (Defender), $top up to 2,000 (Graph alerts_v2). */
export const MAX_PAGE_SIZES: Record<AlertSource, number> = { defender: 10_000, graph: 2_000 };
export const MAX_PAGE_SIZE = MAX_PAGE_SIZES.defender;
/** A configuration that does not set `source`, for a database that holds nothing yet: Graph, the successor. */
export const DEFAULT_SOURCE: AlertSource = 'graph';
/**
 * Each API's documented request limit, what the client stays under unless callsPerMinute / callsPerHour say
 * less. Defender API: "100 calls per minute and 1,500 calls per hour" (learn.microsoft.com/defender-endpoint/
 * api/get-alerts). Graph: security alert operations 150 requests a minute per app per tenant, no hourly limit
 * (learn.microsoft.com/graph/throttling-limits, "Security detections and incidents service limits").
 */
export const CALL_QUOTAS: Record<AlertSource, { perMinute: number; perHour: number | undefined; what: string }> = {
  defender: { perMinute: 100, perHour: 1500, what: "the Defender API's quota" },
  graph: { perMinute: 150, perHour: undefined, what: "Microsoft Graph's limit for security alerts" },
};
/** Graph serviceSourceFilter default: the service this product is about. */
export const DEFAULT_SERVICE_SOURCES = ['microsoftDefenderForEndpoint'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type KeyKind = 'string' | 'number' | 'boolean' | 'list' | 'duration';

function duration(name: string, { min, max }: { min: number; max: number }) {
  return z.unknown().transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "90s", "10m", "6h" or "30d" (got ${JSON.stringify(value)})` });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `${name} must be between ${formatDuration(min)} and ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });
}

const httpsUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      return new URL(value).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https:// URL')
  .transform((value) => value.replace(/\/+$/, ''));

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** A CA file must hold certificates Node can parse: TLS would otherwise fail later, on every connection. */
function caFileProblem(contents: string, file: string): string | undefined {
  const blocks = contents.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return `${file} holds no PEM certificate: give a file with "-----BEGIN CERTIFICATE-----" blocks`;
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `${file}: certificate ${index + 1} of ${blocks.length} cannot be parsed (${errorMessage(error).split('\n')[0]}): give the PEM certificate of the CA that signs the servers' certificates`;
    }
  }
  return undefined;
}

const pemFile = fileWhose(caFileProblem, ': give the path of a readable PEM file');

/** A path the worker creates files at: `~/` is the home directory; an existing one must be a regular file. */
function localPath(options: { mustBeFile?: boolean } = {}) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .transform((value, ctx) => {
      const expanded = expandHome(value);
      if (expanded === undefined) {
        ctx.addIssue({ code: 'custom', message: `only "~/" (your home directory) is expanded: write the path of ${value.split('/')[0]} out in full` });
        return z.NEVER;
      }
      const problem = options.mustBeFile ? databasePathProblem(expanded) : undefined;
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      return expanded;
    });
}

function enumList<T extends readonly [string, ...string[]]>(values: T) {
  return z.array(z.enum(values, { error: (issue) => `unknown value ${JSON.stringify(issue.input)}: use one of ${values.join(', ')}` }));
}

/** Every configuration key: its schema, how an environment string becomes its value, and its default. */
const KEYS = {
  tenantId: {
    kind: 'string',
    schema: z.string().trim().refine((v) => GUID.test(v) || /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(v) || v === 'organizations', 'must be the directory (tenant) GUID or a verified domain such as contoso.onmicrosoft.com').optional(),
  },
  clientId: { kind: 'string', schema: z.string().trim().regex(GUID, 'must be the application (client) GUID of the app registration').optional() },
  cloud: { kind: 'string', schema: z.enum(CLOUDS, { error: `must be one of ${CLOUDS.join(', ')}` }).default('commercial') },
  // Not set: the source the database already syncs, else DEFAULT_SOURCE (see chooseSource).
  source: { kind: 'string', schema: z.enum(SOURCES, { error: `must be one of ${SOURCES.join(', ')}` }).optional() },
  authorityUrl: { kind: 'string', schema: httpsUrl.optional() },
  apiBaseUrl: { kind: 'string', schema: httpsUrl.optional() },
  scope: { kind: 'string', schema: z.string().trim().regex(/^https:\/\/\S+\/\.default$/, 'must look like https://<resource>/.default').optional() },
  caFile: { kind: 'string', schema: pemFile.optional() },
  databasePath: { kind: 'string', schema: localPath({ mustBeFile: true }).default('data/mde-alerts.db') },
  tokenCachePath: { kind: 'string', schema: localPath().optional() },
  tokenCacheKeyFile: {
    kind: 'string',
    schema: secretFile('the token cache key', 'the key', (contents) =>
      contents.trim().length < MIN_KEY_LENGTH ? `must hold at least ${MIN_KEY_LENGTH} characters of key material (e.g. from "openssl rand -base64 32")` : undefined,
    ).optional(),
  },
  plaintextTokenCache: { kind: 'boolean', schema: z.boolean({ error: 'must be true or false' }).default(false) },
  authFlow: { kind: 'string', schema: z.enum(AUTH_FLOWS, { error: `must be one of ${AUTH_FLOWS.join(', ')}` }).default('deviceCode') },
  username: { kind: 'string', schema: z.string().trim().min(3, 'must be the user principal name').optional() },
  passwordFile: { kind: 'string', schema: nonEmptySecretFile('the password').optional() },
  clientSecretFile: { kind: 'string', schema: nonEmptySecretFile('the client secret').optional() },
  clientCertificateFile: {
    kind: 'string',
    schema: secretFile('the certificate and its private key (PEM)', 'the certificate', (pem) => {
      if (pem.trim() === '') return 'is empty: it must hold a certificate and its private key (PEM)';
      return pem.includes('BEGIN CERTIFICATE') && /BEGIN (RSA |EC )?PRIVATE KEY/.test(pem) ? undefined : 'must hold both the certificate and its private key in PEM';
    }).optional(),
  },
  lookback: { kind: 'duration', schema: duration('lookback', { min: 60_000, max: 365 * 86_400_000 }).default(180 * 86_400_000) },
  pageSize: { kind: 'number', schema: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE} (the API's maximum page size)`).optional() },
  expandEvidence: { kind: 'boolean', schema: z.boolean({ error: 'must be true or false' }).default(true) },
  // Not set: on with source graph (Graph's security/incidents), off with defender (no incidents endpoint here).
  incidents: { kind: 'boolean', schema: z.boolean({ error: 'must be true or false' }).optional() },
  severityFilter: { kind: 'list', schema: enumList(SEVERITIES).default([]) },
  statusFilter: { kind: 'list', schema: enumList(STATUSES).default([]) },
  serviceSourceFilter: { kind: 'list', schema: z.array(z.string().trim().regex(/^[A-Za-z0-9]+$/, 'service sources are single words such as microsoftDefenderForEndpoint, or all')).default(DEFAULT_SERVICE_SOURCES) },
  detectionSourceFilter: { kind: 'list', schema: z.array(z.string().trim().regex(/^[A-Za-z0-9]+$/, 'detection sources are single words such as WindowsDefenderAtp')).default([]) },
  overlap: { kind: 'duration', schema: duration('overlap', { min: 0, max: 7 * 86_400_000 }).default(5 * 60_000) },
  settleLag: { kind: 'duration', schema: duration('settleLag', { min: 0, max: 86_400_000 }).default(10 * 60_000) },
  // How far this machine's clock and the API's Date header may disagree before a pass warns about it.
  clockSkewTolerance: { kind: 'duration', schema: duration('clockSkewTolerance', { min: 1000, max: 86_400_000 }).default(5 * 60_000) },
  useOrderBy: { kind: 'boolean', schema: z.boolean({ error: 'must be true or false' }).default(true) },
  requestTimeout: { kind: 'duration', schema: duration('requestTimeout', { min: 100, max: 3_600_000 }).default(120_000) },
  maxResponseMegabytes: { kind: 'number', schema: z.number({ error: 'must be a number' }).min(1, 'must be at least 1').max(4096, 'must be at most 4096').optional() },
  maxRetries: { kind: 'number', schema: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0).max(20, 'must be at most 20').default(6) },
  retryMinDelay: { kind: 'duration', schema: duration('retryMinDelay', { min: 1, max: 600_000 }).default(1000) },
  retryMaxDelay: { kind: 'duration', schema: duration('retryMaxDelay', { min: 1, max: 3_600_000 }).default(60_000) },
  maxRetryAfter: { kind: 'duration', schema: duration('maxRetryAfter', { min: 0, max: 3_600_000 }).default(300_000) },
  // Not set: the source's CALL_QUOTAS; set, at most that (checked once the source is known).
  callsPerMinute: { kind: 'number', schema: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').optional() },
  callsPerHour: { kind: 'number', schema: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').optional() },
  schedule: {
    kind: 'string',
    schema: z.string().trim().refine((v) => cron.validate(v), 'must be a cron expression such as "*/5 * * * *" (minute hour day month weekday, optional seconds first)').default('*/5 * * * *'),
  },
  scheduleJitter: { kind: 'duration', schema: duration('scheduleJitter', { min: 0, max: 3_600_000 }).default(0) },
  healthPort: { kind: 'number', schema: z.number({ error: 'must be a port number' }).int('must be a port number').min(0).max(65_535, 'must be at most 65535').optional() },
  healthHost: { kind: 'string', schema: z.string().trim().min(1).default('127.0.0.1') },
  // A progress line this often while a pass runs (0: none): a few a minute on a long backfill, none in a
  // steady-state pass of one request.
  progressInterval: { kind: 'duration', schema: duration('progressInterval', { min: 0, max: 3_600_000 }).default(10_000) },
  readyMaxAge: { kind: 'duration', schema: duration('readyMaxAge', { min: 1000, max: 7 * 86_400_000 }).default(30 * 60_000) },
  shutdownTimeout: { kind: 'duration', schema: duration('shutdownTimeout', { min: 100, max: 600_000 }).default(30_000) },
  // The WAL after passes (walPolicy.ts): cut back to this size, checkpointed here or by Litestream.
  walSizeLimitMegabytes: { kind: 'number', schema: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(65_536, 'must be at most 65536').default(DEFAULT_WAL_SIZE_LIMIT_MEGABYTES) },
  walCheckpoints: { kind: 'string', schema: z.enum(WAL_CHECKPOINTS, { error: `must be one of ${WAL_CHECKPOINTS.join(', ')} (external: leave checkpoints to Litestream)` }).default('worker') },
  // Retention, applied after passes (retention.ts): finished sync_runs (the newest of each stream stays), and, only when
  // set, the history of alerts resolved and unchanged for longer. Alerts themselves are never pruned.
  syncRunRetention: { kind: 'duration', schema: duration('syncRunRetention', { min: 86_400_000, max: 36_500 * 86_400_000 }).default(90 * 86_400_000) },
  resolvedHistoryRetention: { kind: 'duration', schema: duration('resolvedHistoryRetention', { min: 86_400_000, max: 36_500 * 86_400_000 }).optional() },
  logLevel: { kind: 'string', schema: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info') },
} satisfies Record<string, { kind: KeyKind; schema: z.ZodType }>;

export type ConfigKey = keyof typeof KEYS;
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];

const settingsSchema = z
  .object(Object.fromEntries(CONFIG_KEYS.map((key) => [key, KEYS[key].schema])) as { [K in ConfigKey]: (typeof KEYS)[K]['schema'] })
  .strict();

type RawSettings = z.output<typeof settingsSchema>;

/** Which API the alerts are read from, and why: the configuration, the database, or the default. */
export interface SourceChoice {
  source: AlertSource;
  /** Set by the configuration (file, environment, or the program itself). */
  explicit: boolean;
  /** Why, for the log and `status`. */
  reason: string;
}

export interface Settings extends Omit<RawSettings, 'cloud' | 'pageSize' | 'source' | 'incidents'> {
  cloud: Cloud;
  /** Whether a pass syncs Graph's incidents after the alerts (setting `incidents`; default: with source graph). */
  incidents: boolean;
  source: AlertSource;
  sourceChoice: SourceChoice;
  pageSize: number;
  /** Authority host (scheme and host, no tenant) that MSAL signs in against. */
  authorityHost: string;
  apiBaseUrl: string;
  scope: string;
  tokenCachePath: string;
  /**
   * Where versions before the reader model kept the cache when tokenCachePath was not set (beside the
   * database); a cache found there is moved to tokenCachePath (tokenCacheLocation.ts). Unset when the path is set.
   */
  legacyTokenCachePath?: string;
  /** Key material for the token cache, from MDE_ALERT_SYNC_TOKEN_CACHE_KEY or tokenCacheKeyFile. */
  tokenCacheKey: string | undefined;
  /** The password flow's password, from MDE_ALERT_SYNC_PASSWORD or passwordFile. */
  password: string | undefined;
  /** The application flow's secret, from MDE_ALERT_SYNC_CLIENT_SECRET or clientSecretFile. */
  clientSecret: string | undefined;
}

export function envName(key: string): string {
  return ENV_PREFIX + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function fromEnvString(kind: KeyKind, text: string): unknown {
  switch (kind) {
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'boolean': {
      const lower = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(lower)) return true;
      if (['false', '0', 'no'].includes(lower)) return false;
      return text;
    }
    case 'list':
      return text.split(',').map((item) => item.trim()).filter(Boolean);
    default:
      return text;
  }
}

/** Lists are also accepted as one comma-separated string in the file. */
function fromFileValue(kind: KeyKind, value: unknown): unknown {
  return kind === 'list' && typeof value === 'string' ? fromEnvString('list', value) : value;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readBoundedText(file, MAX_CONFIG_FILE_BYTES);
  } catch (error) {
    if (error instanceof LocalFileError) {
      const what = error.code === 'TOO_LARGE' ? 'it is not a configuration file' : 'give the path of a YAML file';
      throw new ConfigurationError(`The configuration file ${file} ${error.message}: ${what} with --config or ${CONFIG_PATH_ENV}.`);
    }
    throw new ConfigurationError(`Cannot read the configuration file ${file} (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}). Check the path given by --config or ${CONFIG_PATH_ENV}.`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigurationError(`The configuration file ${file} is not valid YAML: ${errorMessage(error).split('\n')[0]}. See config/mde-alert-sync.example.yaml for the format.`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigurationError(`The configuration file ${file} must hold "key: value" lines, not ${Array.isArray(parsed) ? 'a list' : 'a single value'}. See config/mde-alert-sync.example.yaml.`);
  }
  return parsed as Record<string, unknown>;
}

function closestKey(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/[_-]/g, '');
  return CONFIG_KEYS.find((key) => key.toLowerCase() === lower);
}

export interface LoadOptions {
  /** --config; falls back to MDE_ALERT_SYNC_CONFIG. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Commands that sign in need tenantId and clientId. */
  needsIdentity?: boolean;
  /** Values set by the program itself (the demo), below the file and environment. */
  defaults?: Partial<Record<ConfigKey, unknown>>;
  /**
   * With no `source` set: the source an existing database at this path already syncs (and why), if any.
   * Injected by the CLI, which reads the store; the configuration does not depend on it.
   */
  sourceInDatabase?: (databasePath: string) => Omit<SourceChoice, 'explicit'> | undefined;
}

function chooseSource(raw: RawSettings, origin: string | undefined, inDatabase: LoadOptions['sourceInDatabase']): SourceChoice {
  if (raw.source) return { source: raw.source, explicit: true, reason: origin ? `set ${origin}` : 'set by the program' };
  const stored = inDatabase?.(path.resolve(raw.databasePath));
  if (stored) return { ...stored, explicit: false };
  return { source: DEFAULT_SOURCE, explicit: false, reason: 'a new database (no cursor, no alerts yet) syncs Microsoft Graph' };
}

/** callsPerMinute / callsPerHour may lower the source's documented quota, never raise it. */
function quotaProblems(raw: RawSettings, source: AlertSource, origin: Record<string, string>): string[] {
  const quota = CALL_QUOTAS[source];
  // Without an hourly quota, the minute's limit over an hour is the most that can happen anyway.
  const limits = { callsPerMinute: quota.perMinute, callsPerHour: quota.perHour ?? quota.perMinute * 60 };
  return (['callsPerMinute', 'callsPerHour'] as const)
    .filter((key) => raw[key] !== undefined && raw[key] > limits[key])
    .map((key) => `${key}${origin[key] ? ` (${origin[key]})` : ''}: must be at most ${limits[key]} with source ${source} (${quota.what}: ${quota.perMinute} a minute${quota.perHour ? `, ${quota.perHour} an hour` : ', no hourly limit'})`);
}

export function loadSettings(options: LoadOptions = {}): Settings {
  const env = options.env ?? process.env;
  const file = options.configPath ?? env[CONFIG_PATH_ENV];
  const problems: string[] = [];
  // Null-prototype maps and Object.hasOwn: a key such as "constructor" or "__proto__" is a name like any other.
  const merged: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, options.defaults);
  const origin: Record<string, string> = Object.create(null) as Record<string, string>;

  if (file) {
    for (const [key, value] of Object.entries(readConfigFile(file))) {
      if (Object.hasOwn(SECRETS_IN_FILE, key)) {
        problems.push(`${key} (in ${file}): secrets are never read from the configuration file; use ${SECRETS_IN_FILE[key]}`);
        continue;
      }
      if (!Object.hasOwn(KEYS, key)) {
        const suggestion = closestKey(key);
        problems.push(`${key} (in ${file}): unknown key${suggestion ? `; did you mean ${suggestion}?` : ''}`);
        continue;
      }
      merged[key] = fromFileValue(KEYS[key as ConfigKey].kind, value);
      origin[key] = `in ${file}`;
    }
  }
  const envKeys = new Map(CONFIG_KEYS.map((key) => [envName(key), key]));
  const allowedEnv = new Set([CONFIG_PATH_ENV, ...SECRET_ENVS]);
  const envKey = env[TOKEN_CACHE_KEY_ENV];
  if (envKey !== undefined && envKey.trim().length < MIN_KEY_LENGTH) problems.push(`${TOKEN_CACHE_KEY_ENV}: must hold at least ${MIN_KEY_LENGTH} characters (e.g. from "openssl rand -base64 32")`);
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined || allowedEnv.has(name)) continue;
    const key = envKeys.get(name);
    if (!key) {
      problems.push(`${name}: unknown environment variable; the keys are listed in the README`);
      continue;
    }
    merged[key] = fromEnvString(KEYS[key].kind, text);
    origin[key] = `from ${name}`;
  }

  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      if (issue.code === 'unrecognized_keys') {
        for (const unknownKey of issue.keys) problems.push(`${unknownKey}: unknown key`);
        continue;
      }
      const where = origin[key] ? ` (${origin[key]})` : '';
      const item = issue.path.length > 1 ? `[${String(issue.path[1])}]` : '';
      problems.push(`${key}${item}${where}: ${issue.message}`);
    }
  }
  if (options.needsIdentity) {
    const data = result.success ? result.data : (merged as Partial<RawSettings>);
    if (!data.tenantId) problems.push(`tenantId: required; set it in the config file or ${envName('tenantId')}`);
    if (!data.clientId) problems.push(`clientId: required; set it in the config file or ${envName('clientId')}`);
    const flow = data.authFlow ?? 'deviceCode';
    if (flow === 'password') {
      if (!data.username) problems.push(`username: required by authFlow password; set it or ${envName('username')}`);
      if (!env[PASSWORD_ENV] && !data.passwordFile) problems.push(`${PASSWORD_ENV}: authFlow password needs the password in ${PASSWORD_ENV} or in passwordFile`);
    }
    if (flow === 'clientCredentials') {
      if (!env[CLIENT_SECRET_ENV] && !data.clientSecretFile && !data.clientCertificateFile) problems.push(`${CLIENT_SECRET_ENV}: authFlow clientCredentials needs ${CLIENT_SECRET_ENV}, clientSecretFile or clientCertificateFile`);
      if (data.tenantId && ['organizations', 'common'].includes(data.tenantId)) problems.push('tenantId: authFlow clientCredentials needs the tenant itself, not organizations');
    } else if (envKey === undefined && !data.tokenCacheKeyFile && data.plaintextTokenCache !== true) {
      problems.push(`${TOKEN_CACHE_KEY_ENV}: the token cache is encrypted at rest and needs a key: set ${TOKEN_CACHE_KEY_ENV} (e.g. from "openssl rand -base64 32") or tokenCacheKeyFile; or set plaintextTokenCache: true to keep it unencrypted (not recommended)`);
    }
  }
  const choice = result.success ? chooseSource(result.data, origin.source, options.sourceInDatabase) : undefined;
  if (result.success && choice) problems.push(...quotaProblems(result.data, choice.source, origin));
  if (result.success && choice?.source === 'graph') {
    const { pageSize, detectionSourceFilter } = result.data;
    if (pageSize !== undefined && pageSize > MAX_PAGE_SIZES.graph) problems.push(`pageSize: must be at most ${MAX_PAGE_SIZES.graph} with source graph (the largest $top Graph alerts_v2 accepts)`);
    if (detectionSourceFilter.length > 0) problems.push('detectionSourceFilter: Graph alerts_v2 cannot filter on detectionSource; with source graph use serviceSourceFilter, or remove it');
  }
  if (result.success && choice?.source === 'defender' && result.data.incidents === true) {
    problems.push(`incidents${origin.incidents ? ` (${origin.incidents})` : ''}: incidents are read from Microsoft Graph (security/incidents); with source defender set source: graph, or remove incidents`);
  }
  if (result.success && result.data.retryMinDelay > result.data.retryMaxDelay) {
    problems.push('retryMinDelay: must not be larger than retryMaxDelay');
  }
  if (problems.length > 0 || !result.success || !choice) {
    throw new ConfigurationError(`Invalid configuration${file ? ` (${file})` : ''}; nothing was done:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return resolveSettings(result.data, choice, env);
}

/** A secret from its environment variable, else from its file (named by `key`, whose value is never printed). */
function secretFrom(env: NodeJS.ProcessEnv, name: string, file: string | undefined, key: ConfigKey): string | undefined {
  const value = env[name]?.trim();
  if (value) return value;
  if (!file) return undefined;
  try {
    return readBoundedText(file).trim();
  } catch (error) {
    // Read once already by the validation: it went away or changed since.
    throw new ConfigurationError(`${key} (${envName(key)}): the file it names cannot be read any more (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); check it and start again.`);
  }
}

export const TOKEN_CACHE_FOLDER = 'token-cache';
const TOKEN_CACHE_FILE = 'token-cache.json';

function resolveSettings(raw: RawSettings, sourceChoice: SourceChoice, env: NodeJS.ProcessEnv): Settings {
  const cloud = CLOUD_ENDPOINTS[raw.cloud];
  const databasePath = path.resolve(raw.databasePath);
  const { source } = sourceChoice;
  return {
    ...raw,
    source,
    sourceChoice,
    incidents: raw.incidents ?? source === 'graph',
    databasePath,
    authorityHost: raw.authorityUrl ?? cloud.authorityHost,
    apiBaseUrl: raw.apiBaseUrl ?? sourceEndpoint(cloud, source).apiBaseUrl,
    scope: raw.scope ?? sourceEndpoint(cloud, source).scope,
    pageSize: raw.pageSize ?? MAX_PAGE_SIZES[source],
    // "all" lifts the filter: every service that raises alerts.
    serviceSourceFilter: raw.serviceSourceFilter.some((value) => value.toLowerCase() === 'all') ? [] : raw.serviceSourceFilter,
    caFile: raw.caFile ? path.resolve(raw.caFile) : undefined,
    // By default in a folder of its own beside the database, so that the database's folder can be shared with readers.
    tokenCachePath: path.resolve(raw.tokenCachePath ?? path.join(path.dirname(databasePath), TOKEN_CACHE_FOLDER, TOKEN_CACHE_FILE)),
    ...(raw.tokenCachePath ? {} : { legacyTokenCachePath: path.join(path.dirname(databasePath), TOKEN_CACHE_FILE) }),
    tokenCacheKey: secretFrom(env, TOKEN_CACHE_KEY_ENV, raw.tokenCacheKeyFile, 'tokenCacheKeyFile'),
    password: secretFrom(env, PASSWORD_ENV, raw.passwordFile, 'passwordFile'),
    clientSecret: secretFrom(env, CLIENT_SECRET_ENV, raw.clientSecretFile, 'clientSecretFile'),
  };
}

/**
 * The response size cap: the setting, or else a quarter of the V8 heap limit (at most 512 MB). Node sizes that
 * limit by the memory the process may use (a container's too), and a page is held whole while it is written,
 * so a larger answer makes its window split instead.
 */
export function maxResponseMegabytes(settings: Pick<Settings, 'maxResponseMegabytes'>, heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return settings.maxResponseMegabytes ?? Math.min(512, Math.floor(heapLimitBytes / 4 / 1_048_576));
}
