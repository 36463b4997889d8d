/**
 * printable escapes control characters before a string from an image or a
 * host file reaches a terminal: a hostile image must not be able to move the
 * cursor, retitle the window or hide lines through a command name.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
