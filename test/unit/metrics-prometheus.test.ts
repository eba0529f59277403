// registerLogMetrics with the real prom-client: the exposition text a scraper reads, per log,
// after known appends; and the package loads without prom-client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import * as client from 'prom-client';
import { Log } from '../../src/log/log';
import { registerLogMetrics } from '../../src/metrics/log-metrics';
import { registerMetricsSource } from '../../src/metrics/bridge';
import { tempDir } from '../support/tmp';

/** `name{labels} value` lines of an exposition, as a map. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

test('a scrape reports the appended records and bytes, the fsync histogram in seconds, and the state gauges', async () => {
  const registry = new client.Registry();
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  const reg = registerLogMetrics(log, { registry, client, name: 'orders' });
  try {
    await log.append('abc');
    await Promise.all(['de', 'f'].map((r) => log.append(r)));
    await log.appendBatch(['gh', 'ij']);
    const text = await registry.metrics();
    const s = samples(text);
    const st = log.stats();
    assert.equal(s.get('nodewal_log_appended_records_total{log="orders"}'), 5);
    assert.equal(s.get('nodewal_log_appended_bytes_total{log="orders"}'), 10);
    assert.equal(s.get('nodewal_log_last_index{log="orders"}'), 5);
    assert.equal(s.get('nodewal_log_durable_index{log="orders"}'), 5);
    assert.equal(s.get('nodewal_log_first_index{log="orders"}'), 1);
    assert.equal(s.get('nodewal_log_queue_depth{log="orders"}'), 0);
    assert.equal(s.get('nodewal_log_segments{log="orders"}'), 1);
    assert.equal(s.get('nodewal_log_fsyncs_total{log="orders"}'), st.fsyncs);
    // The histogram saw every fsync: count = fsyncs, +Inf bucket = count, buckets cumulative.
    assert.equal(s.get('nodewal_log_fsync_duration_seconds_count{log="orders"}'), st.fsyncs);
    assert.equal(s.get('nodewal_log_fsync_duration_seconds_bucket{le="+Inf",log="orders"}'), st.fsyncs);
    const buckets = [...s].filter(([k]) => k.startsWith('nodewal_log_fsync_duration_seconds_bucket')).map(([, v]) => v);
    assert.deepEqual(
      buckets,
      [...buckets].sort((a, b) => a - b),
    );
    // Seconds, not microseconds: the sum matches stats()' mean (µs) within the histogram's error.
    const sum = s.get('nodewal_log_fsync_duration_seconds_sum{log="orders"}')!;
    assert.ok(
      Math.abs(sum / st.fsyncs - st.fsyncLatency.mean / 1e6) <= 0.1 * (st.fsyncLatency.mean / 1e6) + 1e-6,
      `${sum} vs ${st.fsyncLatency.mean} µs`,
    );
    assert.match(text, /# TYPE nodewal_log_fsync_duration_seconds histogram/);
    assert.match(text, /# TYPE nodewal_log_appended_records_total counter/);
    assert.match(text, /# TYPE nodewal_log_queue_depth gauge/);
  } finally {
    reg.unregister();
    await log.close();
  }
});

test('two logs share one registry under their own labels; unregister removes one', async () => {
  const registry = new client.Registry();
  const a = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  const b = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  const ra = registerLogMetrics(a, { registry, client, name: 'a' });
  const rb = registerLogMetrics(b, { registry, client, name: 'b' });
  try {
    await a.append('1');
    await b.appendBatch(['1', '2', '3']);
    let s = samples(await registry.metrics());
    assert.equal(s.get('nodewal_log_appended_records_total{log="a"}'), 1);
    assert.equal(s.get('nodewal_log_appended_records_total{log="b"}'), 3);
    ra.unregister();
    await a.append('2');
    s = samples(await registry.metrics());
    assert.equal(s.get('nodewal_log_appended_records_total{log="a"}'), undefined);
    assert.equal(s.get('nodewal_log_fsync_duration_seconds_count{log="a"}'), undefined);
    assert.equal(s.get('nodewal_log_appended_records_total{log="b"}'), 3);
  } finally {
    rb.unregister();
    await a.close();
    await b.close();
  }
});

test('consumer lag: last index minus each consumer position, read at scrape time', async () => {
  const registry = new client.Registry();
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  const positions = [
    { name: 'indexer', index: 2n },
    { name: 'mailer', index: 5 },
  ];
  const reg = registerLogMetrics(log, { registry, client, name: 'l', consumers: () => positions });
  try {
    await log.appendBatch(['1', '2', '3', '4', '5']);
    const s = samples(await registry.metrics());
    assert.equal(s.get('nodewal_log_consumer_lag_records{log="l",consumer="indexer"}'), 3);
    assert.equal(s.get('nodewal_log_consumer_lag_records{log="l",consumer="mailer"}'), 0);
  } finally {
    reg.unregister();
    await log.close();
  }
});

test('other sources (a forwarder, say) add their own families to the same registry with one call', async () => {
  const registry = new client.Registry();
  let forwarded = 7;
  const reg = registerMetricsSource(
    [
      { name: 'nodewal_forwarder_forwarded_records_total', help: 'Records forwarded.', type: 'counter', labelNames: ['log'] },
      {
        name: 'nodewal_forwarder_ack_latency_seconds',
        help: 'Ack latency.',
        type: 'histogram',
        labelNames: ['log'],
        buckets: [0.001, 0.01],
      },
    ],
    { collect: () => [{ name: 'nodewal_forwarder_forwarded_records_total', labels: { log: 'x' }, value: forwarded }] },
    { registry, client },
  );
  reg.observe('nodewal_forwarder_ack_latency_seconds', { log: 'x' }, 0.005);
  forwarded = 9;
  const s = samples(await registry.metrics());
  assert.equal(s.get('nodewal_forwarder_forwarded_records_total{log="x"}'), 9);
  assert.equal(s.get('nodewal_forwarder_ack_latency_seconds_bucket{le="0.001",log="x"}'), 0);
  assert.equal(s.get('nodewal_forwarder_ack_latency_seconds_bucket{le="0.01",log="x"}'), 1);
  // A name someone else registered is refused rather than silently shared.
  new client.Gauge({ name: 'taken_gauge', help: 'x', registers: [registry] });
  assert.throws(
    () =>
      registerMetricsSource(
        [{ name: 'taken_gauge', help: 'y', type: 'gauge', labelNames: [] }],
        { collect: () => [] },
        { registry, client },
      ),
    /already registered/,
  );
  reg.unregister();
});

test('the package loads without prom-client; registering metrics then says what to install', () => {
  const entry = path.join(__dirname, '..', '..', 'src', 'index.ts');
  const script = `
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (req, ...rest) {
      if (req === 'prom-client' || req.startsWith('prom-client/')) { const e = new Error("Cannot find module 'prom-client'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
      return resolve.call(this, req, ...rest);
    };
    const api = require(${JSON.stringify(entry)});
    if (Object.keys(require.cache).some((k) => k.includes('prom-client'))) throw new Error('prom-client was loaded');
    try { api.registerLogMetrics({ dir: 'x', on() {}, off() {}, stats() { return {}; } }); throw new Error('no error'); }
    catch (err) { if (err.code !== 'ERR_WAL_MISSING_DEPENDENCY') throw err; console.log('ok', err.message); }
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ok .*npm install prom-client/);
});
