// Module hooks that run edge_function/router.js, the file shipped, under Node.
//
// `node --import ./edge_function/test/register.mjs ...` registers this file's `resolve` and
// `load` hooks (node:module register(), Node >= 20.6):
// - `import cf from 'cloudfront'` resolves to ./cloudfront-shim.mjs, which serves KeyValueStore
//   reads from globalThis.__kvs and records origin changes in globalThis.__origin;
// - router.js loads as its own text with `export { handler };` appended. CloudFront calls
//   `handler` by name and the file exports nothing; nothing else changes, except that when
//   EDGE_FUNCTION_POOL is set the `const POOL = "...";` line takes that name, exactly as the
//   template's substitution does at deploy time (see pool.mjs).
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setPool } from './pool.mjs';

const SHIM = new URL('./cloudfront-shim.mjs', import.meta.url).href;
const ROUTER = new URL('../router.js', import.meta.url).href;

let pool = null;

export function initialize(data) {
    pool = data && typeof data.pool === 'string' ? data.pool : null;
}

export async function resolve(specifier, context, nextResolve) {
    if (specifier === 'cloudfront') {
        return { url: SHIM, shortCircuit: true };
    }
    return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
    if (url === ROUTER) {
        let source = await readFile(fileURLToPath(url), 'utf8');
        if (pool !== null) {
            source = setPool(source, pool);
        }
        return { format: 'module', source: source + '\nexport { handler };\n', shortCircuit: true };
    }
    return nextLoad(url, context);
}

// The hooks run on a thread of their own, which loads this file again: register only from
// the main thread.
if (isMainThread) {
    register(import.meta.url, { data: { pool: process.env.EDGE_FUNCTION_POOL ?? null } });
}
