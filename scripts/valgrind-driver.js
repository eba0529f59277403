'use strict';
/**
 * Exercises the native addon directly (no TypeScript loader, so valgrind only pays for node and
 * the addon): N cycles of open/lock/write(+datasync)/read/truncate/allocate/size/unlock/close,
 * sync variants, error paths (bad fd, missing file, lock conflict), aligned buffers, the
 * dedicated sync thread (SyncThread), and crc32c / crc32cChain on every implementation.
 * Usage: node valgrind-driver.js [cycles] [dir]
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const addonPath = process.env.WAL_NATIVE_PATH || require('node-gyp-build').resolve(root);
const addon = require(addonPath);
const cycles = Number(process.argv[2] || 10000);
const dir = process.argv[3] || fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-vg-'));
const { O_RDWR, O_CREAT, O_TRUNC, O_RDONLY } = fs.constants;

async function expectError(p, what) {
  try {
    await p;
  } catch {
    return;
  }
  throw new Error(`${what} should have failed`);
}

async function main() {
  const data = Buffer.alloc(8192, 7);
  const target = Buffer.alloc(8192);
  const impls = addon.crcImplementations;
  for (let i = 0; i < cycles; i++) {
    const file = path.join(dir, `f${i % 4}`);
    const { fd, direct, alignment } = await addon.open(file, O_RDWR | O_CREAT | O_TRUNC, 0o600, i % 7 === 0);
    await addon.lock(fd, false, file);
    if (direct) {
      // O_DIRECT: address, length and offset aligned
      const aligned = addon.allocAligned(alignment * 2, alignment);
      await addon.write(fd, [aligned], 0, i % 3 === 0, file);
      await addon.read(fd, aligned, 0, file);
      await addon.close(fd, file);
      continue;
    }
    await addon.write(fd, [data.subarray(0, 100 + (i % 4000)), data.subarray(0, 512)], 0, i % 3 === 0, file);
    const n = await addon.read(fd, target, 0, file);
    if (n <= 0) throw new Error('read returned nothing');
    if (i % 10 === 0) {
      // The LevelDB reader's calls: readv into blocks, the same with the runs found beside it, the scan.
      const blocks = [Buffer.alloc(4096), Buffer.alloc(100)];
      if ((await addon.readv(fd, blocks, 0, file)) <= 0) throw new Error('readv returned nothing');
      await addon.readLevelDBBlocks(fd, blocks, 0, i % 20 === 0, new Uint32Array(2 * 2 * 4), file);
      addon.scanLevelDBFullRecords(data, i % 100, 8192, true);
      await expectError((async () => addon.readLevelDBBlocks(fd, blocks, 0, true, new Uint32Array(3), file))(), 'runs of the wrong size');
    }
    await addon.truncate(fd, 50, file);
    await addon.allocate(fd, 0, 4096, file);
    await addon.size(fd, file);
    if (i % 5 === 0) await addon.datasync(fd, file);
    if (i % 50 === 0) {
      // A second open of a locked file cannot lock (OFD locks exclude other opens).
      const other = await addon.open(file, O_RDONLY, 0, false);
      await expectError(addon.lock(other.fd, false, file), 'lock conflict');
      await addon.close(other.fd, file);
      addon.writeSync(fd, [data.subarray(0, 64)], 10, true, file);
      addon.readSync(fd, target, 0, file);
      addon.sizeSync(fd, file);
      addon.fsyncDirSync(dir);
      await addon.fsyncDir(dir);
      await addon.fsync(fd, file);
      await expectError(addon.open(path.join(dir, 'missing', 'x'), O_RDONLY, 0, false), 'open of a missing file');
    }
    await addon.unlock(fd, file);
    await addon.close(fd, file);
    if (i % 50 === 0) await expectError(addon.write(fd, [data], 0, false, file), 'write to a closed fd');
    const buf = data.subarray(0, (i * 37) % 8192);
    addon.crc32c(buf, i >>> 0);
    addon.crc32cChain(data, Uint32Array.of(0, 10, 10, 4000, 5000, 8192), 0);
    if (i % 100 === 0) for (const name of impls) addon.crc32cWith(name, buf, 0);
    if (i % 10 === 0) addon.allocAligned(4096 + (i % 3) * 512, 4096);
    if (i % 20 === 0) {
      // The dedicated sync thread: writes in order, an error, close with writes queued, and
      // (every other time) an object left to the garbage collector unclosed.
      const t = new addon.SyncThread(i % 40 === 0 ? 0 : 50);
      const sfd = (await addon.open(file, O_RDWR | O_CREAT, 0o600, false)).fd;
      const writes = [t.write(sfd, data, 0, true, file), t.write(sfd, data.subarray(0, 100), 8192, i % 3 === 0, file)];
      await expectError(t.write(-1, data, 0, false, file), 'sync thread write to a bad fd');
      if (i % 40 === 0) t.close();
      await Promise.all(writes);
      await addon.close(sfd, file);
    }
  }
  // Left open with writes in flight at exit: the environment's cleanup hook joins the thread.
  const last = new addon.SyncThread();
  const lfd = (await addon.open(path.join(dir, 'last'), O_RDWR | O_CREAT, 0o600, false)).fd;
  for (let k = 0; k < 4; k++) last.write(lfd, data, k * data.length, true, '');
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`valgrind driver: ${cycles} open/lock/write/read/close cycles and crc calls done`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
