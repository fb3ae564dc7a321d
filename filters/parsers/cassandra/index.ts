// Entry point of cassandra.wasm: the Proxy-Wasm exports from the SDK, running the CQL parser.
import { useParser } from '../../sdk/index';
import { CassandraFactory } from './parser';
export * from '../../sdk/module/exports';

useParser(new CassandraFactory());
