/** SPECS: every verb's options as data, by verb name; loaded only for `ckpt VERB --help` (and by the verbs' own modules). */
import { CHECK, DUMP, INSPECT, RESTORE } from './images.js';
import { EXPORT, IMPORT, PULL, PUSH } from './oci.js';
import { KILL, LOGS, PS, RM, RUN, STEP } from './containers.js';
import { DEMO } from './demo.js';
import { HOST } from './host.js';
import type { CommandSpec } from './spec.js';

export const SPECS: Readonly<Record<string, CommandSpec>> = Object.fromEntries(
  [DEMO, HOST, RUN, PS, STEP, LOGS, KILL, RM, DUMP, RESTORE, CHECK, INSPECT, EXPORT, IMPORT, PUSH, PULL].map((s) => [s.name, s]),
);
