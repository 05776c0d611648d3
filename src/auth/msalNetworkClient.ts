// MSAL's network client interface, served by our shared HTTP layer (extra CA applies to identity calls too).
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import { send } from '../http/httpLayer.js';

const IDENTITY_TIMEOUT_MS = 30_000;
const IDENTITY_MAX_BYTES = 1_048_576;

export function msalNetworkClient(dispatcher: Dispatcher): INetworkModule {
  async function exchange<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    const response = await send(dispatcher, url, {
      method,
      headers: options?.headers,
      body: method === 'POST' ? (options?.body ?? '') : undefined,
      timeoutMs: timeout ?? IDENTITY_TIMEOUT_MS,
      maxBytes: IDENTITY_MAX_BYTES,
    });
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
