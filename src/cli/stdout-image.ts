/** Whether a dump is writing its image to standard output: a closed pipe there is the dump's failure, not the end of a listing. */
let imageOnStdout = false;

export function writingImageToStdout(): boolean {
  return imageOnStdout;
}

export function setWritingImageToStdout(on: boolean): void {
  imageOnStdout = on;
}
