#!/usr/bin/env node
// The `cynchro` bin on plain Node: the compiled CLI (`pnpm build` in the workspace; the packed package ships dist).
import { main } from '../dist/main.js';

const code = await main(process.argv.slice(2));
process.exit(code);
