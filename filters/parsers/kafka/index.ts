// Entry point of kafka.wasm: the Proxy-Wasm exports from the SDK, running the Kafka parser.
import { declareRuleKeys, useParser } from '../../sdk/index';
import { KafkaFactory } from './parser';
import { KAFKA_RULE_DECLARATION } from './rule-keys';
export * from '../../sdk/module/exports';

useParser(new KafkaFactory());
declareRuleKeys(KAFKA_RULE_DECLARATION);
