/** Index arguments of the Log's API: bigints or safe-integer numbers in, numbers inside (src/index-arg.ts). */
export { indexToNumber as toIndex } from '../index-arg';
