/** Public exports only. */
export { WalError, WalErrorCodes, isWalError } from './errors';
export type { WalErrorCode, WalErrorDetails } from './errors';
export { backend } from './io/backend';
export type { IoBackend, WalFile, OpenOptions, WriteOptions } from './io/types';
export { crc32c } from './crc32c';
