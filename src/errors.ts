// Errors the operator sees. Each carries the exit code the CLI ends with and a message that says what is
// wrong and what to do; the CLI prints the message, never a stack trace.

export const ExitCode = {
  ok: 0,
  syncFailed: 1, // transient or API-side failure: the next run retries; nothing stored was lost
  badConfiguration: 2, // configuration or command-line usage
  signInRequired: 3, // no account signed in, or its refresh token was rejected
  permissionDenied: 4, // the API answered 403
  storeFailed: 5, // the database cannot be opened, written, or is newer than this program
  anotherWriter: 6, // another instance holds the database's writer lease
  fileSystemProblem: 7, // a folder or file this command must create or write cannot be (permissions, read-only, full)
  sourcesDisagree: 10, // compare-sources: the Defender API and Graph returned different alerts (not a failure of either)
  // sync stopped by SIGINT / SIGTERM (128 + the signal's number, as a shell reports it); its run is recorded interrupted
  stoppedBySigint: 130,
  stoppedBySigterm: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConfigurationError extends UserFacingError {
  constructor(message: string) {
    super(message, ExitCode.badConfiguration);
  }
}

export class SignInRequiredError extends UserFacingError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`${reason} Run "mde-alert-sync login" to sign in again.`, ExitCode.signInRequired, options);
  }
}

export class PermissionDeniedError extends UserFacingError {
  constructor(message: string) {
    super(message, ExitCode.permissionDenied);
  }
}

export class StoreError extends UserFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.storeFailed, options);
  }
}

/** A folder or file the command needs cannot be created or written: found before anything is requested. */
export class FileSystemError extends UserFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.fileSystemProblem, options);
  }
}

/** A failure of one sync pass that the next pass may not meet (network, 5xx, quota, malformed body). */
export class SyncFailedError extends UserFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.syncFailed, options);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
