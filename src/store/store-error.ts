/** StoreError is a problem with the state directory or a host file: one line naming the file and what is wrong. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: 'CKPT_HOST_MISSING' | 'CKPT_HOST_EXISTS' | 'CKPT_HOST_CORRUPT' | 'CKPT_HOST_LOCKED' | 'CKPT_BAD_NAME',
    message: string,
  ) {
    super(message);
  }
}
