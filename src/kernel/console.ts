/** Console is a container's terminal: what its programs write to fds 1 and 2, in order. It is the observable trace. */
export class Console {
  private chunks: string[] = [];

  constructor(readonly name: string) {}

  write(bytes: Uint8Array): void {
    this.chunks.push(new TextDecoder().decode(bytes));
  }

  get text(): string {
    return this.chunks.join('');
  }
}
