#!/usr/bin/env node
// Entry point for `npx weir`: runs the TypeScript CLI through tsx so that no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../server/cli/main.ts');
