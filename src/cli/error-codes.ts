/**
 * Every error code ckpt reports and the exit status it gives, in one table.
 * The README's table is checked against this one by a test, and a scan of
 * the sources checks that every CKPT_ code anywhere in src/ is here. The
 * command line decides the exit status of an error by its code alone.
 */

/** ckpt's exit statuses. */
export const EXIT = {
  OK: 0,
  /** the command ran and found a problem (a failed check, a missing host, a refused image) */
  FAILURE: 1,
  /** bad usage: unknown option, missing argument, malformed value; nothing was touched */
  USAGE: 2,
  /** a bug in ckpt: an unexpected exception */
  INTERNAL: 70,
  /** stopped by SIGINT (128 + 2) or SIGTERM (128 + 15) before its commit point; nothing was changed */
  SIGINT: 130,
  SIGTERM: 143,
} as const;

export interface ErrorCode {
  exit: number;
  means: string;
}

/** ERROR_CODES: the stable code of every error, its exit status and what it means. */
export const ERROR_CODES = {
  CKPT_USAGE: { exit: EXIT.USAGE, means: 'an unknown verb or option, a missing argument, a malformed value' },
  CKPT_BAD_NAME: { exit: EXIT.USAGE, means: 'a host or container name that is not safe as a file name' },
  CKPT_HOST_MISSING: { exit: EXIT.FAILURE, means: 'no host of that name' },
  CKPT_HOST_EXISTS: { exit: EXIT.FAILURE, means: 'a host of that name exists already' },
  CKPT_HOST_CORRUPT: { exit: EXIT.FAILURE, means: 'a host file that cannot be read; it is left as it is' },
  CKPT_HOST_LOCKED: { exit: EXIT.FAILURE, means: "another command held the host's lock longer than CKPT_LOCK_TIMEOUT" },
  CKPT_NO_CONTAINER: { exit: EXIT.FAILURE, means: 'no container of that name on the host (or, for --into, one whose init has exited)' },
  CKPT_CONTAINER_EXISTS: { exit: EXIT.FAILURE, means: 'a container of that name exists already on the host' },
  CKPT_CONTAINER_RUNNING: { exit: EXIT.FAILURE, means: 'rm of a container that is still running, without --force' },
  CKPT_CONTAINER_FAILED: { exit: EXIT.FAILURE, means: "a container's init could not be started (the kernel's errno)" },
  CKPT_READ_FAILED: { exit: EXIT.FAILURE, means: 'a file named on the command line (a workload, an image) cannot be read: its errno' },
  CKPT_PARSE_ERROR: { exit: EXIT.FAILURE, means: 'a workload that does not parse (file:line:column)' },
  CKPT_DUMP_REFUSED: { exit: EXIT.FAILURE, means: 'a container holding something that cannot be checkpointed' },
  CKPT_WRITE_FAILED: { exit: EXIT.FAILURE, means: "an image that cannot be written (the errno's name); the container is left running" },
  CKPT_OUTPUT_EXISTS: { exit: EXIT.FAILURE, means: 'dump to a file that exists, without --force' },
  CKPT_NO_ZSTD: { exit: EXIT.FAILURE, means: 'a zstd image to write or read, and no zstd program on PATH' },
  CKPT_NOT_AN_IMAGE: { exit: EXIT.FAILURE, means: "not a ckpt image (another program's tar, or not a tar at all)" },
  CKPT_TRUNCATED: { exit: EXIT.FAILURE, means: 'a ckpt image that ends before its last entry does' },
  CKPT_BAD_VERSION: { exit: EXIT.FAILURE, means: 'an image of a format version this ckpt does not read' },
  CKPT_BAD_ARCHIVE: { exit: EXIT.FAILURE, means: 'an image whose archive is malformed (unexpected entries, headers or sizes)' },
  CKPT_BAD_CHECKSUM: { exit: EXIT.FAILURE, means: 'an image entry that does not match its SHA-256 in the manifest' },
  CKPT_BAD_RECORD: { exit: EXIT.FAILURE, means: 'an image record that is not valid CBOR or not of its schema' },
  CKPT_INCONSISTENT: { exit: EXIT.FAILURE, means: 'an image whose records contradict each other' },
  CKPT_PRIVILEGE: { exit: EXIT.FAILURE, means: 'an image or restore that would need more privilege than the restorer has' },
  CKPT_MISSING_PROGRAM: { exit: EXIT.FAILURE, means: 'a program neither embedded in the image nor found on the target' },
  CKPT_NAME_TAKEN: { exit: EXIT.FAILURE, means: "the restored container's name is taken on the target" },
  CKPT_ARCH_MISMATCH: { exit: EXIT.FAILURE, means: "the image's architecture cannot run on the target" },
  CKPT_KERNEL_MISMATCH: { exit: EXIT.FAILURE, means: 'the image was made on a host of the other kernel personality (mainline or 2.6.32)' },
  CKPT_PID_MAX: { exit: EXIT.FAILURE, means: "the image uses a pid not below the target's pid_max" },
  CKPT_PID_COLLISION: { exit: EXIT.FAILURE, means: 'a pid the image needs is held on the target' },
  CKPT_UNSUPPORTED: { exit: EXIT.FAILURE, means: 'a layout restore cannot make yet' },
  CKPT_RESTORE_FAILED: { exit: EXIT.FAILURE, means: 'a restore that failed while executing; the target is unchanged' },
  CKPT_NO_REAL_KERNEL: { exit: EXIT.FAILURE, means: '--host linux where real containers cannot run (not root, no helper built, not Linux on x86_64): the line says which' },
  CKPT_TWIN_DIVERGED: { exit: EXIT.FAILURE, means: 'on --host linux, the real kernel and the model answered a call differently, or a process was killed from outside ckpt' },
  CKPT_BAD_LAYOUT: { exit: EXIT.FAILURE, means: 'an OCI image layout that is malformed or unsafe to read' },
  CKPT_BAD_REFERENCE: { exit: EXIT.USAGE, means: 'an oci:DIR[:TAG] or docker:// reference that does not parse' },
  CKPT_TAG_NOT_FOUND: { exit: EXIT.FAILURE, means: 'no checkpoint under that tag in the layout' },
  CKPT_NO_SKOPEO: { exit: EXIT.FAILURE, means: 'push or pull without skopeo installed' },
  CKPT_TRANSFER_FAILED: { exit: EXIT.FAILURE, means: "skopeo could not copy to or from the registry (its own reason is shown)" },
  CKPT_INTERRUPTED: { exit: EXIT.SIGINT, means: 'stopped by SIGINT (130) or SIGTERM (143) before its commit point; nothing changed' },
  CKPT_INTERNAL: { exit: EXIT.INTERNAL, means: 'a bug in ckpt: rerun with --debug and report it' },
} as const satisfies Record<string, ErrorCode>;

export type CkptCode = keyof typeof ERROR_CODES;

/** codeOf is an error's stable code when it has one of the table's. */
export function codeOf(e: unknown): CkptCode | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as CkptCode) : undefined;
}

/** exitStatusOf is the exit status of an error: its code's, else internal. */
export function exitStatusOf(e: unknown): number {
  const explicit = (e as { exitStatus?: unknown } | null)?.exitStatus;
  if (typeof explicit === 'number') return explicit;
  const code = codeOf(e);
  return code ? ERROR_CODES[code].exit : EXIT.INTERNAL;
}
