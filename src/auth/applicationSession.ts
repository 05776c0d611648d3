// Application context (no user): client credentials with a secret or a certificate. The token carries
// `roles` (Alert.Read.All) instead of `scp`; nothing is stored on disk, a new token is requested when needed.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/settings.js';
import { SyncFailedError, UserFacingError, ExitCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AccessToken, Session } from './delegatedSession.js';
import { describeIdentityError, requireAccessToken } from './delegatedSession.js';
import { msalConfiguration } from './msalConfiguration.js';
import { IdentityNetworkFailures } from './msalNetworkClient.js';

function clientCertificate(file: string): { thumbprintSha256: string; privateKey: string; x5c: string } {
  const pem = readFileSync(file, 'utf8');
  const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)![0];
  const privateKey = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)![0];
  return { thumbprintSha256: new X509Certificate(certificate).fingerprint256.replace(/:/g, ''), privateKey, x5c: certificate };
}

export class ApplicationSession implements Session {
  private readonly app: ConfidentialClientApplication;
  private readonly name: string;
  private readonly network = new IdentityNetworkFailures();

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    dispatcher: Dispatcher,
  ) {
    const configuration = msalConfiguration(settings, logger, dispatcher, this.network);
    const credential = settings.clientCertificateFile ? { clientCertificate: clientCertificate(settings.clientCertificateFile) } : { clientSecret: settings.clientSecret! };
    this.app = new ConfidentialClientApplication({ ...configuration, auth: { ...configuration.auth, ...credential } });
    this.name = `application ${settings.clientId}`;
  }

  async accessToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    try {
      const result = await this.app.acquireTokenByClientCredential({ scopes: [this.settings.scope], skipCache: options.forceRefresh ?? false });
      if (!result) throw new Error('the identity provider returned no token');
      return { token: requireAccessToken(result.accessToken), expiresOn: result.expiresOn, username: this.name, tenantId: result.tenantId };
    } catch (error) {
      if (error instanceof SyncFailedError) throw error;
      const description = describeIdentityError(error, this.network);
      // A wrong secret or certificate does not heal by retrying: it needs the operator.
      if (/invalid_client|AADSTS7000215|AADSTS700027|AADSTS700016|unauthorized_client/.test(description)) {
        throw new UserFacingError(`The application credentials were refused: ${description}. Check clientId and the client secret or certificate.`, ExitCode.signInRequired, { cause: error });
      }
      throw new SyncFailedError(`Could not get an application token: ${description}`, { cause: error });
    }
  }

  async login(): Promise<{ username: string }> {
    await this.accessToken({ forceRefresh: true });
    this.logger.info({ application: this.settings.clientId }, 'application token acquired');
    return { username: this.name };
  }

  async logout(): Promise<{ username: string }[]> {
    return []; // nothing is kept on disk for an application
  }
}
