import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'nodewal-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

const created: string[] = [];
process.on('exit', () => {
  if (process.env['KEEP_TMP']) return;
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** The backend under test, as chosen by WAL_NATIVE ('1' native, '0' fallback). */
export const expectedBackend = process.env['WAL_NATIVE'] === '0' ? 'fallback' : 'native';
