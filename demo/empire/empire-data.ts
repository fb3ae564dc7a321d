// The Empire's data from Cilium's Cassandra guide, created directly against Cassandra (past Envoy,
// as the guide runs its populate script inside the server pod): keyspace `deathstar` with three
// scrum notes, keyspace `attendance` with eleven daily records. Also counts rows the same way,
// so the demo can show what a denied write did not change.
import cassandra from 'cassandra-driver';

export const SCRUM_NOTE_COUNT = 3;
export const DAILY_RECORD_COUNT = 11;

const REPLICATION = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
const SCRUM_NOTES = [
  'Shield generator goes on the forest moon. Not blocked.',
  'Hull colour: grey, lighter grey or a grey in between? Not blocked.',
  'Thermal exhaust port drafted; two metres wide, leads to the core. Not blocked.',
];

/** Where Cassandra's native port is, past Envoy. */
export interface CassandraAddress {
  host: string;
  port: number;
}

export async function populateEmpire(cassandraAddress: CassandraAddress): Promise<void> {
  const client = directClient(cassandraAddress);
  try {
    await client.connect();
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS deathstar WITH replication = ${REPLICATION}`);
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS attendance WITH replication = ${REPLICATION}`);
    await client.execute('CREATE TABLE IF NOT EXISTS deathstar.scrum_notes (empire_member_id uuid, content varchar, creation timeuuid, PRIMARY KEY (empire_member_id, creation))');
    await client.execute('CREATE TABLE IF NOT EXISTS attendance.daily_records (creation timeuuid, loc_id uuid, present boolean, empire_member_id uuid, PRIMARY KEY (loc_id, creation, empire_member_id))');
    for (const note of SCRUM_NOTES) {
      await client.execute('INSERT INTO deathstar.scrum_notes (empire_member_id, content, creation) VALUES (uuid(), ?, now())', [note], { prepare: true });
    }
    for (let record = 0; record < DAILY_RECORD_COUNT; record++) {
      await client.execute('INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())');
    }
  } finally {
    await client.shutdown();
  }
}

/** How many rows `keyspace.table` holds, read directly from Cassandra. */
export async function countRowsDirectly(cassandraAddress: CassandraAddress, table: 'deathstar.scrum_notes' | 'attendance.daily_records'): Promise<number> {
  const client = directClient(cassandraAddress);
  try {
    await client.connect();
    const result = await client.execute(`SELECT count(*) FROM ${table}`);
    const count: unknown = result.first().get('count');
    return Number(count);
  } finally {
    await client.shutdown();
  }
}

function directClient(cassandraAddress: CassandraAddress): cassandra.Client {
  return new cassandra.Client({ contactPoints: [`${cassandraAddress.host}:${cassandraAddress.port}`], localDataCenter: 'datacenter1' });
}
