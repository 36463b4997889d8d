/**
 * The rule for host and container names: safe as a file name and on a
 * terminal (no path separators, no control characters), at most 64 long.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const NAME_RULE = "use letters, digits, '.', '_' and '-' (at most 64, not starting with '.' or '-')";

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
