// The keyspace bare table names resolve to, tracked so that the filter never decides against a
// keyspace the server will not have when it runs the request. Cassandra 5.0 runs the requests of
// one connection concurrently (Dispatcher.dispatch submits each to a shared thread pool) against
// one shared ClientState, and a statement resolves its bare names when it is parsed, on that
// pool, after requests sent earlier may or may not have run. So while a keyspace change (USE)
// is in flight, no bare name can be resolved; and while requests that resolved bare names
// against the current keyspace are in flight, no USE may overtake them. The rules:
//   - a request whose bare names need the connection's keyspace is refused while a USE is in
//     flight (a request naming its own keyspace in its parameters needs none);
//   - a USE is refused while another USE, or any request resolved against the current keyspace,
//     is in flight;
//   - the keyspace changes only when the USE's answer passes: a Set_keyspace result sets it, an
//     ERROR leaves it, anything else makes it unknown (bare names are refused until the next USE).
// Stream ids identify the requests (one reply per id; the parser refuses ids reused in flight).
import { IdSet } from '../../sdk/index';

export const MAX_STREAM_IDS: i32 = 32768; // v3+ request stream ids are 0 .. 32767

export const NO_KEYSPACE_WHILE_USE_IN_FLIGHT = 'the connection is changing keyspace (a USE is in flight), so a table without a keyspace cannot be resolved yet; qualify it as keyspace.table or wait for the USE to complete';
export const USE_WHILE_DEPENDENTS_IN_FLIGHT = 'a USE cannot be forwarded while another USE, or a request that resolved its tables against the current keyspace, is in flight: Cassandra could run them in either order';

export class KeyspaceTracking {
  // The keyspace the server confirmed (Set_keyspace), or null when none is known.
  keyspace: ArrayBuffer | null = null;
  private changeStream: i32 = -1;
  private dependents: IdSet = new IdSet(MAX_STREAM_IDS);

  get changeInFlight(): bool {
    return this.changeStream >= 0;
  }

  // True when a USE may be forwarded now.
  mayChange(): bool {
    return this.changeStream < 0 && this.dependents.count == 0;
  }

  // A request is forwarded on `stream`: it resolved bare names against `keyspace` and/or may
  // change the keyspace.
  forwarded(stream: i32, usedKeyspace: bool, changesKeyspace: bool): void {
    if (usedKeyspace) this.dependents.add(stream);
    if (changesKeyspace) this.changeStream = stream;
  }

  // The reply on `stream` passed. `setKeyspace` is the keyspace of a Set_keyspace result (null
  // for any other reply), `isError` whether the reply is an ERROR.
  replied(stream: i32, setKeyspace: ArrayBuffer | null, isError: bool): void {
    this.dependents.remove(stream);
    if (stream == this.changeStream) {
      this.changeStream = -1;
      if (setKeyspace !== null) this.keyspace = setKeyspace;
      else if (!isError) this.keyspace = null;
    } else if (setKeyspace !== null) {
      // A keyspace change the filter did not see forwarded: it cannot know the order, so forget.
      this.keyspace = null;
    }
  }
}
