// Which parser this module runs. A module holds exactly one parser; its entry file
// (filters/parsers/<name>/index.ts) hands the factory over with useParser() as its only
// top-level statement, and the ABI exports look it up here.
import { ParserFactory } from './parser';
import { RuleKeys } from '../policy/rule-keys';

let activeFactory: ParserFactory | null = null;
let declaredKeys: RuleKeys | null = null;

export function useParser(factory: ParserFactory): void {
  activeFactory = factory;
}

export function parserFactory(): ParserFactory | null {
  return activeFactory;
}

// For a parser whose rule schema is not (yet) its RuleKeys (Kafka's filter matches compiled
// apiKey sets): the declaration the build writes to `<name>.rules.json` (module/exports.ts).
export function declareRuleKeys(keys: RuleKeys): void {
  declaredKeys = keys;
}

export function declaredRuleKeys(): RuleKeys | null {
  return declaredKeys;
}
