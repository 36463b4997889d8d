/**
 * SIGINT and SIGTERM during a dump or a restore. While caught, a signal
 * does not kill ckpt at once: it aborts the work at its next step, before
 * the commit point (the image renamed into place, the host file replaced),
 * so the temporary files go and nothing has changed; a signal that comes
 * once the commit is under way lets it complete, and is reported.
 */
import { EXIT } from './error-codes.js';

/** Interrupted: the work stopped before its commit point; the message says what state is left. Exit 130 (SIGINT) or 143 (SIGTERM). */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  readonly code = 'CKPT_INTERRUPTED';
  readonly exitStatus: number;
  constructor(
    readonly signalName: NodeJS.Signals,
    message: string,
  ) {
    super(message);
    this.exitStatus = signalName === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT;
  }
}

export interface CaughtSignals {
  /** aborted, with an Interrupted as its reason, when a signal comes */
  readonly signal: AbortSignal;
  /** the first signal that came, if one did */
  received(): NodeJS.Signals | null;
  /** gives the signals back their default action */
  release(): void;
}

/** onStopSignals calls `first` with the first SIGINT or SIGTERM from now on; it returns how to stop listening. */
function onStopSignals(first: (sig: NodeJS.Signals) => void): () => void {
  let got = false;
  const on = (sig: NodeJS.Signals) => (): void => {
    if (got) return;
    got = true;
    first(sig);
  };
  const int = on('SIGINT');
  const term = on('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return () => {
    process.off('SIGINT', int);
    process.off('SIGTERM', term);
  };
}

/** Signals held from before a command catches them itself: the first that came, and how to stop holding. */
let held: { got: NodeJS.Signals | null; release(): void } | null = null;

/**
 * holdSignals catches SIGINT and SIGTERM from now until the command's catchSignals takes over, so that
 * one coming while the command's code loads (a few hundred milliseconds) is kept for it: the command
 * then stops at its first step with its one line, instead of node dying silently.
 */
export function holdSignals(): void {
  if (held) return;
  const h: { got: NodeJS.Signals | null; release(): void } = { got: null, release: () => undefined };
  h.release = onStopSignals((sig) => (h.got = sig));
  held = h;
}

/** takeHeld stops holding signals and gives the one that came while held, if any. */
export function takeHeld(): NodeJS.Signals | null {
  const h = held;
  held = null;
  h?.release();
  return h?.got ?? null;
}

export function catchSignals(): CaughtSignals {
  const controller = new AbortController();
  let got: NodeJS.Signals | null = null;
  const stop = (sig: NodeJS.Signals): void => {
    if (got) return;
    got = sig;
    controller.abort(new Interrupted(sig, `interrupted by ${sig}`));
  };
  const before = takeHeld();
  const release = onStopSignals(stop);
  if (before) stop(before);
  return {
    signal: controller.signal,
    received: () => got,
    release,
  };
}
