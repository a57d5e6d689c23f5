#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
import '../dist/polyfill.js'
import { main } from '../dist/cli/main.js'

main(process.argv).then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`bellwether: ${err?.stack ?? err}\n`)
  process.exitCode = 1
})
