#!/usr/bin/env node
// Launcher: run the compiled CLI and set the exit code. Everything else lives in src/cli.
import { run } from '../dist/src/cli/main.js';

process.exitCode = await run(process.argv.slice(2));
