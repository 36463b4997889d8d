/**
 * Why a restore is refused or fails: stable codes scripts may match on, and
 * one error that lists every problem found.
 */

/** Stable codes of the reasons a restore is refused or fails; scripts may match on them. */
export type RestoreErrorCode =
  | 'CKPT_NAME_TAKEN'
  | 'CKPT_BAD_NAME'
  | 'CKPT_ARCH_MISMATCH'
  | 'CKPT_KERNEL_MISMATCH'
  | 'CKPT_PID_MAX'
  | 'CKPT_PID_COLLISION'
  | 'CKPT_PRIVILEGE'
  | 'CKPT_NO_CONTAINER'
  | 'CKPT_UNSUPPORTED'
  | 'CKPT_RESTORE_FAILED';

/** Problem is one reason an image cannot be restored. */
export interface Problem {
  readonly code: RestoreErrorCode;
  readonly message: string;
}

/** RestoreError says why an image cannot be restored; `problems` lists every one found, the first one's code is `code`. */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
  readonly code: RestoreErrorCode;
  constructor(readonly problems: readonly Problem[]) {
    super(problems.map((p) => p.message).join('; '));
    this.code = problems[0]?.code ?? 'CKPT_RESTORE_FAILED';
  }

  /** reasons: the problems' messages */
  get reasons(): string[] {
    return this.problems.map((p) => p.message);
  }
}

/** failed stops a restore at a step that went wrong (the copy being restored onto is thrown away). */
export function failed(message: string, code: RestoreErrorCode = 'CKPT_RESTORE_FAILED'): never {
  throw new RestoreError([{ code, message }]);
}
