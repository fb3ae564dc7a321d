// Entry point of r2d2.wasm: the Proxy-Wasm exports from the SDK, running the r2d2 parser.
import { useParser } from '../../sdk/index';
import { R2d2Factory } from './parser';
export * from '../../sdk/module/exports';

useParser(new R2d2Factory());
