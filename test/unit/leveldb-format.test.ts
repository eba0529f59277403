import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '../../src/crc32c';
import { defaultBackend } from '../../src/io/backend';
import { sliceCrcs } from '../../src/crc32c-combine';
import { maskCrc, unmaskCrc } from '../../src/leveldb/format';

test('mask vectors from LevelDB util/crc32c.h', () => {
  assert.equal(maskCrc(0), 0xa282ead8);
  assert.equal(maskCrc(0xe3069283), 0xc78ab0e5);
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('unmask inverts mask', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (c) => unmaskCrc(maskCrc(c)) === c));
});

test('sliceCrcs: one chained call gives each slice its own CRC (gaps, empty and block-sized slices)', () => {
  const slice = fc.record({ gap: fc.nat(20), length: fc.oneof(fc.nat(40), fc.constantFrom(0, 32761, 32762, 40000)) });
  fc.assert(
    fc.property(fc.array(slice, { minLength: 1, maxLength: 6 }), fc.nat(), (slices, seed) => {
      const total = slices.reduce((n, s) => n + s.gap + s.length, 0);
      const data = new Uint8Array(total);
      for (let i = 0; i < total; i++) data[i] = (i * 2654435761 + seed) >>> 24;
      const bounds: number[] = [];
      let at = 0;
      for (const s of slices) {
        at += s.gap;
        bounds.push(at, at + s.length);
        at += s.length;
      }
      const got = sliceCrcs(defaultBackend, data, Uint32Array.from(bounds));
      const want = slices.map((_, i) => crc32c(data.subarray(bounds[2 * i]!, bounds[2 * i + 1]!)));
      assert.deepEqual([...got], want);
    }),
    { numRuns: 60 },
  );
});
