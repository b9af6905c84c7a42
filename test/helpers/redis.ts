// A Redis of the test's own: redis-server on 127.0.0.1 at a free port, in a temporary folder. By default nothing is
// persisted; a durable one keeps an append-only file synced on every write, so that killing it and starting it
// again (`restart`) brings back the queue as a production Redis would after a crash.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  stop: () => Promise<void>;
  /** Kills the server with SIGKILL (a crash) and waits until it is gone. */
  kill: () => Promise<void>;
  /** Starts the server again on the same port and folder. */
  restart: () => Promise<void>;
}

async function answering(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`redis-server did not answer on port ${port}`);
}

const exit = (server: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((resolve) => {
    if (server.exitCode !== null || server.signalCode !== null) return resolve();
    server.on('exit', () => resolve());
    server.kill(signal);
  });

export async function startRedis(options: { durable?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tokenwave-redis-'));
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let server: ChildProcess;
  const launch = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], { stdio: 'ignore' });
    const failed = new Promise<never>((_, reject) =>
      server.on('error', (err) => reject(new Error(`cannot start redis-server (${err.message}): install it (Debian: apt-get install redis-server); .ci/run does`))),
    );
    await Promise.race([answering(port), failed]);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => exit(server, 'SIGTERM'),
    kill: () => exit(server, 'SIGKILL'),
    restart: launch,
  };
}
