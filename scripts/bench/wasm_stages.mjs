// Runs the stage-cost module (crates/wasm-filter/examples/stage_costs.rs) under Node's V8,
// the engine Envoy embeds for proxy-wasm: WASI for its files and clock, and every proxy-wasm
// host function the module imports answering Ok (0) without doing anything (the stages it
// times make no host call but the clock's).
//   node scripts/bench/wasm_stages.mjs MODULE DIR ARGS...   (DIR: the files it reads)
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [module, dir, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['stage_costs', ...args], preopens: { [dir]: dir } });
const wasm = await WebAssembly.compile(readFileSync(module));
const imports = { wasi_snapshot_preview1: wasi.wasiImport, env: {} };
for (const imp of WebAssembly.Module.imports(wasm)) {
  if (imp.module === 'env' && imp.kind === 'function') imports.env[imp.name] = () => 0;
}
const { exports } = await WebAssembly.instantiate(wasm, imports);
// The module also exports the filter's proxy-wasm entry point (`_initialize`), which
// WASI.start refuses next to `_start`: hand it only what a command needs.
wasi.start({ exports: { memory: exports.memory, _start: exports._start } });
