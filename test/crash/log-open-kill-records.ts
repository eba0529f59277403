/** The records of log-open-kill.test.ts and its child: known contents, so a reader can check each one. */
export const SEGMENT = 16 << 20;
/** Written before the damage (entries 1..ORIGINAL; the last one is then torn). */
export const ORIGINAL = 200;
export const original = (i: number): Buffer => Buffer.alloc(700, `old ${i};`);
/** Appended by the children after the repair: entry i. */
export const freshRecord = (i: number): Buffer => Buffer.alloc(300, `new ${i};`);
