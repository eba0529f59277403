/**
 * Real nats-server processes for the forwarder tests: a single JetStream server or a 3-node
 * cluster, on loopback ports (127.0.0.1 only), each with a temporary store directory; nodes can
 * be killed with SIGKILL and restarted on the same ports and store. Every process started here is
 * killed when the test process exits.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from 'nats';
import type { NatsConnection, StreamConfig } from 'nats';

const BIN = process.env['NATS_SERVER'] ?? 'nats-server';

/** nats-server is installed (scripts/install-system-deps.sh); the tests fail loudly otherwise. */
export function natsServerVersion(): string {
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${BIN} not runnable (run scripts/install-system-deps.sh): ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface NodeSpec {
  name: string;
  port: number;
  clusterPort?: number;
  storeDir: string;
  configFile: string;
}

export class NatsNode {
  proc: ChildProcess | null = null;
  log = '';
  constructor(readonly spec: NodeSpec) {}

  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(): Promise<void> {
    const p = spawn(BIN, ['-c', this.spec.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    live.add(p);
    p.on('exit', () => live.delete(p));
    const onData = (d: Buffer): void => {
      this.log = (this.log + d.toString()).slice(-20000);
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    const deadline = Date.now() + 15000;
    while (!this.log.includes('Server is ready')) {
      if (!this.running) throw new Error(`nats-server ${this.spec.name} exited: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`nats-server ${this.spec.name} not ready in 15 s: ${this.log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null || !this.running) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }
}

export interface Servers {
  nodes: NatsNode[];
  urls: string[];
  /** A connection to the servers (any node), for stream set-up and reading back. */
  connect(): Promise<NatsConnection>;
  /** Creates a stream, retrying while the JetStream meta leader is being elected. */
  addStream(config: Partial<StreamConfig> & { name: string; subjects: string[] }): Promise<void>;
  /** The node currently leading `stream` (clusters). */
  leaderOf(stream: string): Promise<NatsNode>;
  /** Waits until every replica of `stream` is online and current (a restarted node caught up). */
  replicasCurrent(stream: string): Promise<void>;
  stop(): Promise<void>;
}

interface StartOptions {
  /** Extra top-level configuration lines (e.g. an authorization block). */
  extraConfig?: string;
  /** Client options the harness's own connections need (credentials). */
  connectOptions?: { user?: string; pass?: string };
}

/** One JetStream server. */
export async function startServer(opts: StartOptions = {}): Promise<Servers> {
  return start(1, opts);
}

/** Three JetStream servers in one cluster on loopback. */
export async function startCluster(opts: StartOptions = {}): Promise<Servers> {
  return start(3, opts);
}

async function start(count: number, opts: StartOptions): Promise<Servers> {
  natsServerVersion();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-nats-'));
  const specs: NodeSpec[] = [];
  for (let i = 0; i < count; i++) {
    const name = `n${i + 1}`;
    specs.push({
      name,
      port: await freePort(),
      clusterPort: count > 1 ? await freePort() : undefined,
      storeDir: path.join(root, name),
      configFile: path.join(root, `${name}.conf`),
    });
  }
  for (const s of specs) {
    const lines = [`server_name: ${s.name}`, `host: 127.0.0.1`, `port: ${s.port}`, `jetstream { store_dir: "${s.storeDir}" }`];
    if (s.clusterPort !== undefined) {
      const routes = specs.filter((o) => o !== s).map((o) => `nats://127.0.0.1:${o.clusterPort}`);
      lines.push(`cluster { name: nodewal, host: 127.0.0.1, port: ${s.clusterPort}, routes: [${routes.join(', ')}] }`);
    }
    if (opts.extraConfig) lines.push(opts.extraConfig);
    fs.writeFileSync(s.configFile, `${lines.join('\n')}\n`);
  }
  const nodes = specs.map((s) => new NatsNode(s));
  await Promise.all(nodes.map((n) => n.start()));
  const urls = nodes.map((n) => n.url);
  const servers: Servers = {
    nodes,
    urls,
    connect: () => connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 100, ...opts.connectOptions }),
    async addStream(config) {
      const nc = await servers.connect();
      try {
        const deadline = Date.now() + 30000;
        for (;;) {
          try {
            const jsm = await nc.jetstreamManager();
            await jsm.streams.add({ num_replicas: count, ...config });
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await nc.close();
      }
    },
    async leaderOf(stream) {
      const nc = await servers.connect();
      try {
        const deadline = Date.now() + 30000;
        for (;;) {
          try {
            const info = await (await nc.jetstreamManager()).streams.info(stream);
            const leader = nodes.find((n) => n.spec.name === info.cluster?.leader);
            if (leader) return leader;
          } catch (err) {
            if (Date.now() > deadline) throw err;
          }
          if (Date.now() > deadline) throw new Error(`no leader for ${stream}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        await nc.close();
      }
    },
    async replicasCurrent(stream) {
      const nc = await servers.connect();
      try {
        const deadline = Date.now() + 60000;
        for (;;) {
          try {
            const info = await (await nc.jetstreamManager()).streams.info(stream);
            const replicas = info.cluster?.replicas ?? [];
            if (info.cluster?.leader && replicas.length === count - 1 && replicas.every((r) => r.current && !r.offline)) return;
          } catch {
            // no leader at this moment
          }
          if (Date.now() > deadline) throw new Error(`replicas of ${stream} not current after 60 s`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return servers;
}
