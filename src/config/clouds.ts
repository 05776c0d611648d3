// Sign-in authority, API host and token scope of each Microsoft cloud (../shared/reference/defender-alerts-api.md).

export const CLOUDS = ['commercial', 'gcc', 'gcc-high', 'dod'] as const;
export type Cloud = (typeof CLOUDS)[number];

export interface CloudEndpoints {
  authorityHost: string;
  apiBaseUrl: string;
  scope: string;
  /** Microsoft Graph in that cloud (source graph); its scope is <graphBaseUrl>/.default. */
  graphBaseUrl: string;
}

const COMMERCIAL_SCOPE = 'https://api.securitycenter.microsoft.com/.default';

export const CLOUD_ENDPOINTS: Record<Cloud, CloudEndpoints> = {
  commercial: {
    authorityHost: 'https://login.microsoftonline.com',
    apiBaseUrl: 'https://api.security.microsoft.com',
    scope: COMMERCIAL_SCOPE,
    graphBaseUrl: 'https://graph.microsoft.com',
  },
  gcc: {
    authorityHost: 'https://login.microsoftonline.com',
    apiBaseUrl: 'https://api-gcc.securitycenter.microsoft.us',
    // For the US government clouds the resource is the API host itself (not confirmed by Microsoft).
    scope: 'https://api-gcc.securitycenter.microsoft.us/.default',
    // GCC uses the commercial Graph; GCC High and DoD have their own national-cloud Graph hosts.
    graphBaseUrl: 'https://graph.microsoft.com',
  },
  'gcc-high': {
    authorityHost: 'https://login.microsoftonline.us',
    apiBaseUrl: 'https://api-gov.securitycenter.microsoft.us',
    scope: 'https://api-gov.securitycenter.microsoft.us/.default',
    graphBaseUrl: 'https://graph.microsoft.us',
  },
  dod: {
    authorityHost: 'https://login.microsoftonline.us',
    apiBaseUrl: 'https://api-gov.securitycenter.microsoft.us',
    scope: 'https://api-gov.securitycenter.microsoft.us/.default',
    graphBaseUrl: 'https://dod-graph.microsoft.us',
  },
};

/** The API host and token scope a source reads from in a cloud: the Defender API's, or Microsoft Graph's. */
export function sourceEndpoint(cloud: CloudEndpoints, source: 'defender' | 'graph'): { apiBaseUrl: string; scope: string } {
  return source === 'graph' ? { apiBaseUrl: cloud.graphBaseUrl, scope: `${cloud.graphBaseUrl}/.default` } : { apiBaseUrl: cloud.apiBaseUrl, scope: cloud.scope };
}
