/**
 * shown quotes a string from a layout or a registry for a message: JSON
 * quoting escapes C0 controls, and DEL and C1 controls are escaped too, so
 * no text from outside can drive the terminal; long strings are cut.
 */
export function shown(s: string, max = 100): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
