// Compose v2 reads a file by checking it against the Compose Specification's JSON schema (compose-go's
// loader: after interpolating the variables and merging the -f files, before anything runs). The
// tests run the files with Debian's Compose 1.29, so they check them against that schema too, as
// Compose v2 ships it: the schema file of the compose-go module Compose v2.40.3 builds with, read from
// the Go module cache where the set-up downloads it (nothing is built, nothing is copied into the
// repository), validated with Ajv (draft-07, as the schema declares).
import fs from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';
import { expandVariables } from '../../server/config/variables.ts';
import { COMPOSE_GO_VERSION, COMPOSE_SPEC_SCHEMA } from './docker-install.ts';

export type ComposeDocument = Record<string, unknown>;

/** Problems Compose v2 would report for `document` (empty when it accepts it), one line each. */
export type ComposeSpecCheck = (document: ComposeDocument) => string[];

export function composeSpecCheck(): ComposeSpecCheck {
  if (!fs.existsSync(COMPOSE_SPEC_SCHEMA)) {
    throw new Error(`${COMPOSE_SPEC_SCHEMA} is missing (compose-go ${COMPOSE_GO_VERSION}): run the set-up (\`npm run setup\`; \`npm test\` runs it)`);
  }
  const schema = JSON.parse(fs.readFileSync(COMPOSE_SPEC_SCHEMA, 'utf8')) as Record<string, unknown>;
  // The schema names draft-07 by its https address, which Ajv knows as http; it uses keywords of
  // later drafts (deprecated) that draft-07 ignores, as compose-go's validator does.
  delete schema.$schema;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return (document) => (validate(document) ? [] : (validate.errors ?? []).map(describeError));
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(top level)' : error.instancePath.slice(1).replaceAll('/', '.');
  const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
  return `${where}: ${error.message ?? error.keyword}${extra}`;
}

/** A compose file's text with its variables set from `env` (defaults where unset), parsed. */
export function interpolateComposeFile(text: string, env: NodeJS.ProcessEnv): ComposeDocument {
  const { text: expanded, unset } = expandVariables(text, env);
  if (unset.length > 0) throw new Error(unset.join('\n'));
  return parse(expanded) as ComposeDocument;
}

/** `-f base -f override`: mappings merged key by key, anything else replaced by the override's. */
export function mergeComposeDocuments(base: unknown, override: unknown): unknown {
  if (!isMapping(base) || !isMapping(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = key in base ? mergeComposeDocuments(base[key], value) : value;
  return merged;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
