#!/usr/bin/env node
// A `solc` binary stand-in backed by solc-js (npm `solc`), for machines with no native solc.
// It answers the two calls py-solc-x and Foundry make:
//   --version              prints "solc, the solidity compiler ...\nVersion: <long version>"
//   --standard-json        reads Standard JSON input on stdin, writes Standard JSON output on stdout
// Imports are resolved from the working directory, then from the project's node_modules.
// The process ends naturally (process.exitCode) so stdout pipes are never truncated at 64 KiB.
'use strict';
const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..');
const solc = require(path.join(projectRoot, 'node_modules', 'solc'));

function findImport(importPath) {
  const candidates = [
    path.resolve(process.cwd(), importPath),
    path.resolve(projectRoot, importPath),
    path.resolve(projectRoot, 'node_modules', importPath),
    path.resolve(projectRoot, 'contracts', importPath),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found: ${importPath}` };
}

const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exitCode = 0;
} else if (args.includes('--standard-json')) {
  const chunks = [];
  process.stdin.on('data', (chunk) => chunks.push(chunk));
  process.stdin.on('end', () => {
    const input = Buffer.concat(chunks).toString('utf8');
    const output = solc.compile(input, { import: findImport });
    process.stdout.write(output);
    process.exitCode = 0;
  });
} else {
  process.stderr.write('usage: solc-js.cjs --version | --standard-json < input.json\n');
  process.exitCode = 2;
}
