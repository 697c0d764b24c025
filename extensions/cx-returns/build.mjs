// Bundles each target module the way Shopify CLI does (ESM in, one self-contained script out) so CI proves the
// extension compiles; `shopify app deploy` builds the deployed bundles itself.
import {build} from 'esbuild';

const targets = ['OrderStatusBlock', 'ReturnMenuItem', 'ReturnAction'];
await build({
  entryPoints: targets.map((name) => `src/${name}.jsx`),
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  logLevel: 'warning',
});
console.log(`built ${targets.length} targets into dist/`);
