/** CliContext is how a command talks to the outside: output streams and the exit code, so run() can be tested in-process. */
export interface CliContext {
  out(line: string): void;
  err(line: string): void;
  setExitCode(code: number): void;
}
