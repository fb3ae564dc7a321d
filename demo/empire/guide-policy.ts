// The guide's policy exactly as Cilium wrote it, derived from Weir's example (which adds one rule:
// `select` on system_virtual_schema.*). The demo applies it first to show why Weir's copy needs
// that rule: cqlsh on Cassandra 4 and 5 reads the virtual schema while it connects.
import fs from 'node:fs';

const VIRTUAL_SCHEMA_RULE = /\n(\s*)- query_action: select\n\s*query_table: "system_virtual_schema\\\\\.\.\*"(?=\n)/;

/** Writes `outFile`: `weirPolicyFile` without its system_virtual_schema rule. Throws if the example has no such rule. */
export function writeGuideVerbatimPolicy(weirPolicyFile: string, outFile: string): void {
  const text = fs.readFileSync(weirPolicyFile, 'utf8');
  if (!VIRTUAL_SCHEMA_RULE.test(text)) {
    throw new Error(`${weirPolicyFile}: no \`select\` rule on "system_virtual_schema\\\\..*" to remove; the Empire demo expects Weir's copy of the guide's policy to add exactly that rule`);
  }
  const header = "# The guide's policy verbatim (Weir's example minus its system_virtual_schema.* select).\n";
  fs.writeFileSync(outFile, header + text.replace(VIRTUAL_SCHEMA_RULE, ''));
}
