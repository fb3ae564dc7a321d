// Entry point of tcp.wasm: the Proxy-Wasm exports from the SDK, running the opaque TCP guard.
import { useParser } from '../../sdk/index';
import { TcpGuardFactory } from './parser';
export * from '../../sdk/abi/exports';

useParser(new TcpGuardFactory());
