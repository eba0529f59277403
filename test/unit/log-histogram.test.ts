import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LatencyHistogram } from '../../src/log/histogram';

test('quantiles stay within the bucket error of the exact order statistic; max is exact', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 500 }), (values) => {
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      const sorted = [...values].sort((a, b) => a - b);
      const s = h.summary();
      assert.equal(s.count, values.length);
      assert.equal(s.max, sorted[sorted.length - 1]);
      for (const q of [0.5, 0.99]) {
        const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
        const got = h.quantile(q);
        // Upper bucket edge: never below the true value, at most 1/16 above (or +1 for values < 16).
        assert.ok(got >= Math.min(exact, s.max) - 1e-9, `q${q}: ${got} < ${exact}`);
        assert.ok(got <= Math.max(exact * (1 + 1 / 16), exact + 1) + 1e-9, `q${q}: ${got} >> ${exact}`);
      }
    }),
    { numRuns: 200 },
  );
});

test('an empty histogram reports zeros', () => {
  assert.deepEqual(new LatencyHistogram().summary(), { count: 0, p50: 0, p99: 0, max: 0, mean: 0 });
});
