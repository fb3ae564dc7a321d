// Entry point of kafka.wasm: the Proxy-Wasm exports from the SDK, running the Kafka parser.
import { useParser } from '../../sdk/index';
import { KafkaFactory } from './parser';
export * from '../../sdk/module/exports';

useParser(new KafkaFactory());
