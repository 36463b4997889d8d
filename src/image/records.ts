/**
 * The record schemas of image format v1, checked on every read before the
 * image is used (zod). Byte strings are CBOR byte strings (Uint8Array).
 */
import { z } from 'zod';
import type { PageRefs } from '../codec/address-space-record.js';
import { ARCHES } from '../arch/registry.js';
import { NAME_PATTERN } from '../container/names.js';
import { NSIG } from '../abi/signals.js';
import { SYSCALL_NAMES } from '../abi/syscall-names.js';

const archName = z.enum(ARCHES.map((a) => a.name) as [string, ...string[]]);
const nat = z.number().int().nonnegative();
const int = z.number().int();
const idx = z.number().int().min(-1);
const bytes = z.instanceof(Uint8Array);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const isNat = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
// Per-page arrays (100,000s of elements) are checked in one loop each: a tuple or array schema would copy every element.
/** flatNats: naturals in pairs, flattened (page references as memory-record.ts reads them) */
const flatNatPairs = (v: Float64Array): boolean => {
  if (v.length % 2 !== 0) return false;
  for (let i = 0; i < v.length; i++) if (!isNat(v[i])) return false;
  return true;
};
/** [natural, natural] pairs, or the same flattened */
const natPairs = z.custom<PageRefs>((v) => (v instanceof Float64Array ? flatNatPairs(v) : Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && isNat(p[0]) && isNat(p[1]))), {
  message: 'expected an array of [natural, natural] pairs',
});
const booleans = z.custom<boolean[]>((v) => Array.isArray(v) && v.every((b) => typeof b === 'boolean'), { message: 'expected an array of booleans' });

export const manifestSchema = z.object({
  magic: z.string(),
  formatVersion: nat,
  tool: z.string(),
  arch: archName,
  kernel: z.enum(['mainline', '2.6.32']).optional(),
  pageSize: nat,
  pidMax: nat,
  container: z.string().regex(NAME_PATTERN, 'not a valid container name'),
  depth: nat,
  counts: z.object({ tasks: nat, pidNamespaces: nat, userNamespaces: nat, pages: nat }),
  entries: z.record(z.string(), sha256),
});

export const namespacesSchema = z.object({
  base: nat,
  userNs: z.array(z.tuple([idx, nat])),
  // last_pid is -1 on a mainline host before any automatic allocation
  pidNs: z.array(z.union([z.tuple([idx, idx, idx, z.boolean()]), z.tuple([idx, idx, idx, z.boolean(), nat])])),
});

const taskSchema = z.object({
  ns: nat,
  numbers: z.array(z.number().int().positive()).min(1).max(33),
  outer: z.array(z.number().int().positive()).max(32),
  leader: nat,
  parent: idx,
  children: z.array(nat),
  pgid: z.array(z.number().int().positive()).nullable(),
  sid: z.array(z.number().int().positive()).nullable(),
  abi: archName,
  regs: bytes,
  fpu: nat,
  extra: z.array(z.tuple([z.string(), bytes])),
  mm: nat,
  files: nat,
  cred: z.union([z.tuple([nat, nat, nat, idx, nat, nat]), z.tuple([nat, nat, nat, idx, nat, nat, z.literal(true)])]),
  comm: z.string().max(64),
  exitSignal: int,
  exited: z.boolean(),
  exitStatus: nat,
  blockedIn: z.enum(SYSCALL_NAMES as unknown as [string, ...string[]]).nullable(),
  sleepLeft: int.nullable(),
  exePath: z.string().nullable(),
  clearChildTid: nat,
  nsForChildren: nat,
  group: z.object({
    unkillable: z.boolean(),
    sessionLeader: z.boolean(),
    stopped: z.boolean(),
    stopSignal: nat.max(NSIG),
    stopReportPending: z.boolean(),
    continueReportPending: z.boolean(),
    groupExitStatus: nat.nullable(),
  }),
});

export const tasksSchema = z.object({ init: nat, tasks: z.array(taskSchema).min(1) });

export const memorySchema = z.object({
  mms: z.array(z.tuple([nat, z.array(z.tuple([nat, nat, nat, z.boolean(), z.string()])), natPairs])),
  shared: booleans,
  fpus: z.array(bytes),
});

export const filesSchema = z.object({
  files: z.array(
    z.tuple([nat, z.array(z.union([z.tuple([nat, z.literal('console'), nat]), z.tuple([nat, z.literal('ns_last_pid'), nat, nat]), z.tuple([nat, z.literal('pid_max'), nat, nat]), z.tuple([nat, z.literal('pidfd'), nat, idx])]))]),
  ),
  console: z.string(),
});

export const programsSchema = z.array(z.object({ path: z.string().min(1), sha256, text: z.string().optional() }));

export const schedulerSchema = z.object({ round: z.array(nat) });
