// SIGTERM / SIGINT: the first asks for a graceful stop, a second one exits at once.
export function onShutdownSignals(stop: (signal: NodeJS.Signals) => void): () => void {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) {
      process.stderr.write(`mde-alert-sync: second ${signal}: exiting now\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    stop(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
