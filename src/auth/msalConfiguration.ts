// What every MSAL client application here shares: the authority, our HTTP layer, and the logger (PII off).
import { LogLevel, type Configuration } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import { msalNetworkClient, type IdentityNetworkFailures } from './msalNetworkClient.js';

export function msalConfiguration(settings: Settings, logger: Logger, dispatcher: Dispatcher, failures?: IdentityNetworkFailures): Configuration {
  const authorityHost = new URL(settings.authorityHost);
  const isPublicCloudHost = ['login.microsoftonline.com', 'login.microsoftonline.us'].includes(authorityHost.host);
  const msalLog = logger.child({ component: 'msal' });
  return {
    auth: {
      clientId: settings.clientId!,
      authority: `${settings.authorityHost}/${settings.tenantId}`,
      // A host we were told to use is trusted as given, without Microsoft's instance discovery call.
      ...(isPublicCloudHost ? {} : { knownAuthorities: [authorityHost.host] }),
    },
    system: {
      networkClient: msalNetworkClient(dispatcher, failures),
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message, containsPii) => {
          if (containsPii) return;
          if (level === LogLevel.Error) msalLog.error(message);
          else if (level === LogLevel.Warning) msalLog.warn(message);
          else msalLog.debug(message);
        },
      },
    },
  };
}
