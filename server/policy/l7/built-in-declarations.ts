// The rule-key declarations of the parsers Weir ships, as their builds wrote them: each parser
// declares its keys once (filters/parsers/<name>/rule-keys.ts), the build writes the manifest
// beside the module and refreshes the copy in declarations/ (scripts/build-filters.mjs), and the
// server compiles policies for these protocols from that copy, so they validate without a filters
// directory. test/filters/decision-table checks each copy equals what the module declares.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRuleKeysDeclaration, type RuleKeysDeclaration } from './declared-rules.ts';

export type BuiltInParser = 'r2d2' | 'memcache' | 'cassandra' | 'kafka';

/** The tracked copy of `protocol`'s manifest, read and checked once per process. */
export function builtInDeclaration(protocol: BuiltInParser): RuleKeysDeclaration {
  let declaration = cache.get(protocol);
  if (declaration === undefined) {
    const file = builtInDeclarationFile(protocol);
    declaration = readRuleKeysDeclaration(JSON.parse(readFileSync(file, 'utf8')), file);
    cache.set(protocol, declaration);
  }
  return declaration;
}

export function builtInDeclarationFile(protocol: BuiltInParser): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), 'declarations', `${protocol}.rules.json`);
}

const cache = new Map<BuiltInParser, RuleKeysDeclaration>();
