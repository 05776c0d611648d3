// The window reader's view of an alerts API: one query per window, filtered on the update field, asking for
// the answer sorted where that is allowed, with the server's own @odata.nextLink paging kept readable.
import { WindowTooLargeError, type AlertsClient, type AlertsPage } from '../alertsApi/alertsClient.js';
import type { Settings } from '../config/settings.js';
import type { AlertsWindowSource, WindowAnswer } from './alertsWindow.js';

export type WindowQuerySettings = Pick<Settings, 'pageSize' | 'useOrderBy' | 'severityFilter' | 'statusFilter' | 'detectionSourceFilter' | 'serviceSourceFilter'>;

export function apiWindowSource(
  client: AlertsClient,
  settings: WindowQuerySettings,
  options: { expandEvidence: boolean; signal?: AbortSignal | undefined; onFetch?: () => void },
): AlertsWindowSource {
  const { profile } = client;
  const { signal } = options;
  return {
    fetch: async (windowFrom, windowTo, skip) => {
      options.onFetch?.();
      const first = await client.listAlerts(
        {
          filter: profile.windowFilter(windowFrom, windowTo, settings),
          top: settings.pageSize,
          skip,
          expandEvidence: options.expandEvidence,
          // Within one instant the order does not matter; elsewhere a sorted answer saves requests.
          ordered: settings.useOrderBy && skip === 0 && windowTo !== windowFrom + 1n,
          // How many alerts a window holds sizes the next windows; paging within one instant needs none.
          count: skip === 0 && windowTo !== windowFrom + 1n,
        },
        signal,
      );
      // An @odata.nextLink the client did not follow stays readable, for the window reader to page by.
      const seen = new Set<string>();
      const continued = (page: AlertsPage): WindowAnswer =>
        page.nextLink === undefined ? page : { ...page, next: async () => continued(await client.listNextPage(page.nextLink!, seen, signal)) };
      return continued(first);
    },
    isTooLarge: (error) => error instanceof WindowTooLargeError,
  };
}
