/**
 * A small bridge from nodewal's metric sources to `prom-client` (an optional peer dependency: it
 * is loaded only when metrics are registered, so the package works without it).
 *
 * Metric families are declared once (name, help, type, labels); any number of sources — a Log, a
 * forwarder, a consumer set — feed them under their own label values. Counters and gauges are read
 * from the sources at scrape time (prom-client's `collect`); histograms are fed by events as they
 * happen. Several sources, and several modules' families, can share one registry.
 */
import { WalError, WalErrorCodes } from '../errors';

/** The parts of a prom-client metric this bridge uses. */
interface PromMetric {
  reset(): void;
  remove(labels: Record<string, string>): void;
}
interface PromCounter extends PromMetric {
  inc(labels: Record<string, string>, value: number): void;
}
interface PromGauge extends PromMetric {
  set(labels: Record<string, string>, value: number): void;
}
interface PromHistogram extends PromMetric {
  observe(labels: Record<string, string>, value: number): void;
}
interface PromMetricConfig {
  name: string;
  help: string;
  labelNames: readonly string[];
  registers: PromRegistry[];
  buckets?: number[];
  collect?: (this: never) => void;
}

/** The parts of prom-client's `Registry` this bridge uses (a real `Registry` fits). */
export interface PromRegistry {
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

/** The parts of the `prom-client` module this bridge uses (`import * as client from 'prom-client'`). */
export interface PromClient {
  // Loose on purpose: prom-client's own constructor types (generic, `this`-typed collect) must fit.
  Counter: new (...args: never[]) => unknown;
  Gauge: new (...args: never[]) => unknown;
  Histogram: new (...args: never[]) => unknown;
  register: PromRegistry;
}

type MetricCtor = new (config: PromMetricConfig) => unknown;

/** One metric family: its Prometheus name (with unit suffix), help text, type and label names. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  labelNames: readonly string[];
  /** Histograms only: upper bounds of the buckets, in the metric's unit. */
  buckets?: readonly number[];
}

/** One labelled value of a family, read at scrape time. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Where the values come from: `collect()` is called at every scrape. */
export interface MetricsSource {
  collect(): Iterable<Sample>;
}

export interface BridgeOptions {
  /** The registry to register in (default: prom-client's global `register`). */
  registry?: PromRegistry;
  /** The prom-client module (default: `require('prom-client')`). Pass it when bundling. */
  client?: PromClient;
}

/** What a registration returns: observe histogram values, and remove the source again. */
export interface MetricsRegistration {
  /** Records one histogram observation (histogram families only). */
  observe(name: string, labels: Record<string, string>, value: number): void;
  /** Stops reporting this source; its labelled series disappear from the next scrape. */
  unregister(): void;
}

interface Family {
  spec: MetricFamily;
  metric: PromCounter | PromGauge | PromHistogram;
}

class Bridge {
  readonly families = new Map<string, Family>();
  readonly sources = new Set<MetricsSource>();

  constructor(
    private readonly client: PromClient,
    private readonly registry: PromRegistry,
  ) {}

  ensure(spec: MetricFamily): Family {
    const known = this.families.get(spec.name);
    if (known !== undefined) return known;
    if (this.registry.getSingleMetric(spec.name) !== undefined) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `metric ${spec.name} is already registered in this registry by someone else`);
    }
    const bridge = this;
    const config: PromMetricConfig = { name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [this.registry] };
    let metric: Family['metric'];
    if (spec.type === 'histogram') {
      metric = new (this.client.Histogram as unknown as MetricCtor)({ ...config, buckets: [...(spec.buckets ?? [])] }) as PromHistogram;
    } else {
      // Read at scrape time: reset, then set (gauge) or add up to (counter) every source's value.
      config.collect = function collect(): void {
        bridge.collectInto(spec, metric as PromCounter | PromGauge);
      };
      metric = new ((spec.type === 'counter' ? this.client.Counter : this.client.Gauge) as unknown as MetricCtor)(config) as
        PromCounter | PromGauge;
    }
    const f = { spec, metric };
    this.families.set(spec.name, f);
    return f;
  }

  private collectInto(spec: MetricFamily, metric: PromCounter | PromGauge): void {
    metric.reset();
    for (const source of this.sources) {
      for (const s of source.collect()) {
        if (s.name !== spec.name || !Number.isFinite(s.value)) continue;
        if (spec.type === 'counter') (metric as PromCounter).inc(s.labels, s.value);
        else (metric as PromGauge).set(s.labels, s.value);
      }
    }
  }
}

const bridges = new WeakMap<object, Bridge>();

function loadClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (err) {
    throw new WalError(
      WalErrorCodes.MISSING_DEPENDENCY,
      'metrics need prom-client, an optional peer dependency: npm install prom-client (or pass { client })',
      { cause: err },
    );
  }
}

/**
 * Registers `source` for `families` in a prom-client registry. Families already created by an
 * earlier call (another Log, say) are shared; each source reports under its own label values.
 */
export function registerMetricsSource(
  families: readonly MetricFamily[],
  source: MetricsSource,
  options: BridgeOptions = {},
): MetricsRegistration {
  const client = options.client ?? loadClient();
  const registry = options.registry ?? client.register;
  let bridge = bridges.get(registry);
  if (bridge === undefined) {
    bridge = new Bridge(client, registry);
    bridges.set(registry, bridge);
  }
  const b = bridge;
  for (const f of families) b.ensure(f);
  b.sources.add(source);
  const observed = new Map<string, Record<string, string>[]>();
  return {
    observe(name, labels, value) {
      const f = b.families.get(name);
      if (f === undefined || f.spec.type !== 'histogram')
        throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${name} is not a registered histogram`);
      (f.metric as PromHistogram).observe(labels, value);
      const seen = observed.get(name) ?? [];
      if (!seen.some((l) => sameLabels(l, labels))) seen.push(labels);
      observed.set(name, seen);
    },
    unregister() {
      b.sources.delete(source);
      for (const [name, labelSets] of observed) for (const l of labelSets) b.families.get(name)?.metric.remove(l);
      observed.clear();
    },
  };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
