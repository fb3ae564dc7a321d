// Entry point of memcache.wasm: the Proxy-Wasm exports from the SDK, running the memcached parser.
import { useParser } from '../../sdk/index';
import { MemcacheFactory } from './parser';
export * from '../../sdk/module/exports';

useParser(new MemcacheFactory());
