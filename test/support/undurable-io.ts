/**
 * A backend whose writes to some files skip their fdatasync: a commit through it resolves without
 * being durable, so a power-loss suite can check that its checks catch exactly that bug.
 */
import * as path from 'node:path';
import type { IoBackend, WalFile } from '../../src/io/types';

/** `io` with `datasync` dropped from every write to a file whose base name `undurable` accepts. */
export function withoutDatasync(io: IoBackend, undurable: (basename: string) => boolean): IoBackend {
  return delegate<IoBackend>(io, {
    open: async (p: string, o?: Parameters<IoBackend['open']>[1]) => {
      const f = await io.open(p, o);
      if (!undurable(path.basename(p))) return f;
      return delegate<WalFile>(f, { write: (bufs, pos, wo) => f.write(bufs, pos, { ...wo, datasync: false }) });
    },
  });
}

function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, k) {
      if (k in overrides) return (overrides as Record<string | symbol, unknown>)[k];
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
