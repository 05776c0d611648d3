// An alert as the API sent it: its JSON text (a slice of the page buffer it came in) and the fields the
// sync reads before writing it. The store parses the text when it writes the alert and keeps it as raw_json,
// so a page of alerts costs the V8 heap one alert at a time (docs/performance.md).
export class ReceivedAlert {
  constructor(
    private readonly json: Buffer,
    readonly id: unknown,
    /** The source's update field (lastUpdateTime, or Graph's lastUpdateDateTime). */
    readonly lastUpdateTime: unknown,
    /** The deepest nesting of objects and lists in it (1 for an alert without nested values). */
    readonly nesting: number,
    /** The source's creation field (alertCreationTime, createdDateTime): a second signal of the server's order. */
    readonly createdTime?: unknown,
  ) {}

  text(): string {
    return this.json.toString('utf8');
  }
}
