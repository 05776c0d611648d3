// The one fact about each API's alerts that both the client (the cursor's field) and the store (which
// version is newer) need, kept in one place.
import type { AlertSource } from './config/settings.js';

/** The field that orders a source's versions of an alert, and that its windows filter on. */
export const UPDATE_FIELD: Readonly<Record<AlertSource, string>> = { defender: 'lastUpdateTime', graph: 'lastUpdateDateTime' };

/** The field that holds when a source's alert was created. */
export const CREATED_FIELD: Readonly<Record<AlertSource, string>> = { defender: 'alertCreationTime', graph: 'createdDateTime' };
