/**
 * yargs turns an error thrown while checking a value into a plain message;
 * refuse remembers the errors the value checks (options.ts) throw, by message, so the
 * command line reports each with its own code.
 */
const refusedErrors = new Map<string, Error>();

export function refuse(e: Error): never {
  refusedErrors.set(e.message, e);
  throw e;
}

/** refusedWith is the error a value check threw with this message, if one did. */
export function refusedWith(message: string): Error | undefined {
  return refusedErrors.get(message);
}

