// MSAL's network client interface, served by our shared HTTP layer (extra CA applies to identity calls too).
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import { describeNetworkError, send } from '../http/httpLayer.js';

const IDENTITY_TIMEOUT_MS = 30_000;
const IDENTITY_MAX_BYTES = 1_048_576;

/**
 * The last exchange with the identity provider that failed below HTTP (TLS, DNS, connection), if the ones
 * after it did not succeed: MSAL reports such a failure only as "endpoints_resolution_error".
 */
export class IdentityNetworkFailures {
  private last: string | undefined;

  record(url: string, error: unknown | undefined): void {
    this.last = error === undefined ? undefined : `${new URL(url).origin}: ${describeNetworkError(error)}`;
  }

  /** The failure, once. */
  take(): string | undefined {
    const last = this.last;
    this.last = undefined;
    return last;
  }
}

export function msalNetworkClient(dispatcher: Dispatcher, failures?: IdentityNetworkFailures): INetworkModule {
  async function exchange<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    let response;
    try {
      response = await send(dispatcher, url, {
        method,
        headers: options?.headers,
        body: method === 'POST' ? (options?.body ?? '') : undefined,
        timeoutMs: timeout ?? IDENTITY_TIMEOUT_MS,
        maxBytes: IDENTITY_MAX_BYTES,
      });
    } catch (error) {
      failures?.record(url, error);
      throw error;
    }
    failures?.record(url, undefined);
    let body: T;
    try {
      body = JSON.parse(response.body) as T;
    } catch {
      // MSAL expects an object; an HTML page from a proxy becomes an error it reports by status.
      body = { error: 'non_json_response', error_description: `the identity provider answered HTTP ${response.status} with a body that is not JSON` } as T;
    }
    return { status: response.status, headers: response.headers, body };
  }
  return {
    sendGetRequestAsync: (url, options, timeout) => exchange('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => exchange('POST', url, options),
  };
}
