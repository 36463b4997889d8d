/** counted says how many of `noun` there are, in the singular for one: "1 task", "5 tasks". */
export function counted(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}
