// Cassandra 5 from Maven Central as a process on Java 17: installCassandra() is idempotent and fast
// the second time, startCassandra() gives a loopback node that cassandra-driver and cqlsh can use,
// the protocol version each client negotiates is read off the wire, the JVM stays under 1.5 GB RSS,
// stop() ends the pid, and a node that cannot start fails with its output in the error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASSANDRA_VERSION, installCassandra, type CassandraInstallation } from '../../../demo/servers/cassandra/install.ts';
import { installCqlsh, runCqlsh } from '../../../demo/servers/cassandra/cqlsh.ts';
import { cqlHandshake } from '../../../demo/servers/cassandra/cql-handshake.ts';
import { startCassandra, type RunningCassandra } from '../../../demo/servers/cassandra/runner.ts';
import { acceptsConnections } from '../../../demo/servers/loopback-port.ts';
import { recordCqlWire } from './cql-wire-recorder.ts';

const quiet = (): void => undefined;

describe('Cassandra 5 as a process', () => {
  let installation: CassandraInstallation;
  let node: RunningCassandra;

  beforeAll(async () => {
    installation = installCassandra({ say: quiet });
    installCqlsh({ say: quiet });
    node = await startCassandra({ libDir: installation.libDir });
    console.log(`[cassandra test] Cassandra ${installation.version} pid ${node.pid} ready on ${node.host}:${node.nativePort} after ${node.startupMs} ms`);
  }, 300_000);

  afterAll(async () => {
    await node?.stop();
  }, 30_000);

  it('reports itself installed on a second run without running Maven', async () => {
    const lines: string[] = [];
    installCassandra({ say: (line) => lines.push(line) });
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^Cassandra ${CASSANDRA_VERSION.replaceAll('.', '\\.')}: already installed in .* \\(\\d+ jars, Java 17\\)$`))]);
  });

  it('becomes ready and offers protocol v5 in SUPPORTED', async () => {
    console.log(`[cassandra test] ready after ${node.startupMs} ms`);
    expect(node.supported.PROTOCOL_VERSIONS).toEqual(expect.arrayContaining(['4/v4', '5/v5']));
    const again = await cqlHandshake(node.host, node.nativePort, 5_000);
    expect(again.supported.CQL_VERSION?.[0]).toMatch(/^3\./);
  });

  it('creates, writes and reads a table with cassandra-driver', async () => {
    const client = new cassandra.Client({ contactPoints: [`${node.host}:${node.nativePort}`], localDataCenter: 'datacenter1' });
    try {
      await client.connect();
      await client.execute("CREATE KEYSPACE IF NOT EXISTS weir_runner WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
      await client.execute('CREATE TABLE IF NOT EXISTS weir_runner.ships (name text PRIMARY KEY, docked boolean, crew int)');
      await client.execute('INSERT INTO weir_runner.ships (name, docked, crew) VALUES (?, ?, ?)', ['tantive-iv', true, 165], { prepare: true });
      const result = await client.execute('SELECT name, docked, crew FROM weir_runner.ships WHERE name = ?', ['tantive-iv'], { prepare: true });
      expect(result.rows.map((row) => ({ name: row.get('name'), docked: row.get('docked'), crew: row.get('crew') }))).toEqual([
        { name: 'tantive-iv', docked: true, crew: 165 },
      ]);
      const local = await client.execute('SELECT release_version FROM system.local');
      expect(local.first().get('release_version')).toBe(CASSANDRA_VERSION);
    } finally {
      await client.shutdown();
    }
  });

  it('negotiates protocol v4 with cassandra-driver 4.x defaults (the driver has no v5 for Apache Cassandra)', async () => {
    const recorder = await recordCqlWire(node.nativePort);
    const client = new cassandra.Client({ contactPoints: [`127.0.0.1:${recorder.port}`], localDataCenter: 'datacenter1' });
    try {
      await client.connect();
      await client.execute('SELECT release_version FROM system.local');
      expect(recorder.negotiatedVersions().length).toBeGreaterThan(0);
      expect(new Set(recorder.negotiatedVersions())).toEqual(new Set([4]));
    } finally {
      await client.shutdown();
      await recorder.close();
    }
  });

  it('answers a SELECT from cqlsh, which negotiates protocol v5', async () => {
    const recorder = await recordCqlWire(node.nativePort);
    try {
      const result = await runCqlsh({ host: '127.0.0.1', port: recorder.port, execute: 'SELECT cluster_name, release_version FROM system.local' });
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`weir-test \\| +${CASSANDRA_VERSION.replaceAll('.', '\\.')}`));
      expect(result.stdout).toContain('(1 rows)');
      expect(new Set(recorder.negotiatedVersions())).toEqual(new Set([5]));
    } finally {
      await recorder.close();
    }
  });

  it('keeps the JVM under 1.5 GB resident', () => {
    const status = fs.readFileSync(`/proc/${node.pid}/status`, 'utf8');
    const residentKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
    console.log(`[cassandra test] VmRSS ${Math.round(residentKb / 1024)} MiB`);
    expect(residentKb).toBeGreaterThan(0);
    expect(residentKb).toBeLessThan(1.5 * 1024 * 1024);
  });

  it('stops by pid, frees the native port and removes its work dir', async () => {
    const startedAt = Date.now();
    await node.stop();
    console.log(`[cassandra test] stopped in ${Date.now() - startedAt} ms`);
    expect(() => process.kill(node.pid, 0)).toThrow();
    expect(await acceptsConnections(node.nativePort)).toBe(false);
    expect(fs.existsSync(node.workDir)).toBe(false);
  }, 30_000);
});

describe('a Cassandra node that cannot start', () => {
  it('fails fast with the JVM output in the error', async () => {
    const installation = installCassandra({ say: quiet });
    const brokenLib = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-cassandra-broken-'));
    try {
      const jamm = fs.readdirSync(installation.libDir).find((name) => name.startsWith('jamm-'));
      if (jamm === undefined) throw new Error(`no jamm jar in ${installation.libDir}`);
      fs.copyFileSync(path.join(installation.libDir, jamm), path.join(brokenLib, jamm));
      await expect(startCassandra({ libDir: brokenLib, readyTimeoutMs: 20_000 })).rejects.toThrow(
        /exited during start-up with status 1\.[\s\S]*org\.apache\.cassandra\.service\.CassandraDaemon/,
      );
    } finally {
      fs.rmSync(brokenLib, { recursive: true, force: true });
    }
  });
});
