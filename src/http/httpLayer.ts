// The one HTTP layer that both the identity calls (through MSAL's network client) and the API calls use,
// so that an extra CA (corporate TLS inspection) applies to both.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, errors as undiciErrors, request, type Dispatcher } from 'undici';

export interface HttpLayerOptions {
  caFile?: string | undefined;
}

/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case) are honoured; the extra CA is trusted for the servers
 * reached directly, through the proxy (requestTls), and for an https proxy itself (proxyTls).
 */
export function createDispatcher(options: HttpLayerOptions): Dispatcher {
  const ca = options.caFile ? [...rootCertificates, readFileSync(options.caFile, 'utf8')] : undefined;
  const tls = ca ? { ca } : {};
  const proxied = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => process.env[name]);
  if (!proxied) return new Agent({ connect: tls, keepAliveTimeout: 30_000 });
  return new EnvHttpProxyAgent({ connect: tls, requestTls: tls, proxyTls: tls, keepAliveTimeout: 30_000 });
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  bytes: Buffer;
  /** The bytes as UTF-8 text, decoded when first read: a large page is read from its bytes instead. */
  readonly body: string;
}

export class ResponseTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the response was larger than ${Math.round(limitBytes / 1_048_576)} MB`);
  }
}

export class HttpTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
  }
}

export interface SendOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Aborts the exchange (shutdown); the signal's reason is thrown. */
  signal?: AbortSignal | undefined;
}

/** Sends one request and reads the whole body, stopping at maxBytes and at timeoutMs for the whole exchange. */
export async function send(dispatcher: Dispatcher, url: string, options: SendOptions): Promise<HttpResponse> {
  // One controller per exchange, unlinked from the caller's signal afterwards: AbortSignal.any() with the
  // worker's long-lived shutdown signal would keep a reference per request for the life of the process
  // (nodejs/node#55351, #64476), found as steady heap growth by the soak run.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new HttpTimeoutError(options.timeoutMs));
  }, options.timeoutMs);
  const onAbort = () => controller.abort(options.signal!.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const { signal } = controller;
  try {
    const response = await request(url, {
      dispatcher,
      method: options.method,
      headers: options.headers,
      body: options.body,
      signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    // With a Content-Length the body is copied into one buffer as it arrives, so that a large page is not
    // held twice (its chunks and their concatenation) while it becomes a string.
    const declared = Number(response.headers['content-length']);
    const expected = Number.isSafeInteger(declared) && declared > 0 && declared <= options.maxBytes ? declared : undefined;
    const whole = expected === undefined ? undefined : Buffer.allocUnsafe(expected);
    const chunks: Buffer[] = [];
    let size = 0;
    let filled = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (size + chunk.length > options.maxBytes) {
        response.body.destroy();
        throw new ResponseTooLargeError(options.maxBytes);
      }
      if (whole && chunks.length === 0 && filled + chunk.length <= whole.length) filled += chunk.copy(whole, filled);
      else chunks.push(chunk);
      size += chunk.length;
    }
    const received = whole ? [whole.subarray(0, filled), ...chunks] : chunks;
    const bodyBytes = received.length === 1 ? received[0]! : Buffer.concat(received);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    let text: string | undefined;
    return {
      status: response.statusCode,
      headers,
      bytes: bodyBytes,
      get body() {
        return (text ??= bodyBytes.toString('utf8'));
      },
    };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (timedOut || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
      throw new HttpTimeoutError(options.timeoutMs);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

// Node's codes for a server certificate this machine does not accept, and what the operator can do.
const UNTRUSTED_CERTIFICATE = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);
const CERTIFICATE_ADVICE: Record<string, string> = {
  CERT_HAS_EXPIRED: "the server's certificate has expired (or this machine's clock is wrong)",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet (or this machine's clock is wrong)",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is for another host name: check the URL, or the proxy in between",
};

function certificateAdvice(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (UNTRUSTED_CERTIFICATE.has(code)) return "the server's certificate is not signed by a CA this machine trusts: if a proxy inspects TLS, set caFile to the PEM certificate of its CA";
  return Object.hasOwn(CERTIFICATE_ADVICE, code) ? CERTIFICATE_ADVICE[code] : undefined;
}

/** A short, single-line description of a network failure, without URLs' query strings; says what to do about TLS. */
export function describeNetworkError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = (e.cause?.message ?? e.message ?? String(error)).split('\n')[0];
  const described = code && !message?.includes(code) ? `${code}: ${message}` : String(message);
  const advice = certificateAdvice(code);
  return advice ? `${described}; ${advice}` : described;
}
