import * as fs from 'node:fs';
import type { OpenOptions } from './types';

/** open(2) flags for `opts`, shared by both backends so they open files identically. */
export function openFlags(opts: OpenOptions): number {
  const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC } = fs.constants;
  const read = opts.read ?? true;
  const write = opts.write ?? false;
  let flags = read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
  if (opts.create) flags |= O_CREAT;
  if (opts.exclusive) flags |= O_EXCL;
  if (opts.truncate) flags |= O_TRUNC;
  return flags;
}
