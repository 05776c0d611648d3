// The kinds of versioned record a stream holds, known to both the client (a stream's profile) and the store
// (each kind's tables): alerts, and Microsoft Graph's incidents.
export const RECORD_ENTITIES = ['alerts', 'incidents'] as const;
export type RecordEntity = (typeof RECORD_ENTITIES)[number];
