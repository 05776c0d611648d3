import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Microsoft asks integrators to identify themselves: MdatpPartner-{Company}-{Product}/{Version}. */
export const USER_AGENT = `MdatpPartner-MdeAlertSync-MdeAlertSync/${VERSION}`;
